"""Browsing the stored graph: related memories, communities, one memory's place, counts.

The only writes made from here are stale labels refreshed before they are shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import NotFoundError, ValidationError
from ...graph import community_terms
from ...models import SearchFilters
from ...store import graph as gstore
from ...store import memories as mstore
from .context import GraphContext
from .entities import EntityIds
from .labels import Labeller
from .links import LinkReader
from .records import CommunityInfo, RelatedMemory

__all__ = ["GraphBrowser"]


class GraphBrowser:
    def __init__(self, ctx: GraphContext, entities: EntityIds, links: LinkReader, labeller: Labeller,
                 rebuild_running: Callable[[], bool]):
        self.ctx = ctx
        self.entities = entities
        self.links = links
        self.labeller = labeller
        self.rebuild_running = rebuild_running  # for stats()

    def related(self, memory_id: str, *, limit: int = 10, filters: SearchFilters = SearchFilters()) -> list[RelatedMemory]:
        """Memories linked to this one (similarity link or shared entity), strongest first;
        only those passing `filters`."""
        ctx = self.ctx
        if limit < 1:
            raise ValidationError("limit must be positive")
        seed = ctx.memories.get(memory_id)
        with ctx.lock:
            links = self.links.links(ctx.conn, [seed.rowid]).get(seed.rowid, {})
            visible = gstore.visible_rowids(ctx.conn, sorted(links), filters) if links else set()
            best = sorted((n for n in links if n in visible), key=lambda n: (-links[n][0], -links[n][1], n))[:limit]
            mems = mstore.get_by_rowids(ctx.conn, best)
            comm = gstore.communities_of(ctx.conn, best)
            names = self.entities.of(ctx.conn, seed.content)
        out = []
        for n in best:
            if n not in mems:
                continue
            w, cos, shared = links[n]
            ents = [f"{names[e][0]}:{names[e][1]}" for e in shared if e in names]
            out.append(RelatedMemory(mems[n].id, mems[n].namespace, mems[n].content, w, cos, ents, comm.get(n)))
        return out

    def _hides_members(self, filters: SearchFilters) -> bool:
        if filters.is_empty():
            return False
        only_exclusions = SearchFilters(exclude_namespaces=filters.exclude_namespaces)
        if filters == only_exclusions:
            return bool(gstore.community_namespaces(self.ctx.conn, filters.exclude_namespaces))
        return True

    def communities(self, *, limit: int = 20, filters: SearchFilters = SearchFilters()) -> list[CommunityInfo]:
        """Communities, largest first, with labels from their members. With `filters` that
        hide some members (other agents' private namespaces), sizes and labels are computed
        from the visible members only."""
        ctx = self.ctx
        if limit < 1:
            raise ValidationError("limit must be positive")
        with ctx.lock:
            if not self._hides_members(filters):
                self.labeller.refresh()
                return [CommunityInfo(c.id, c.size, c.label, c.terms)
                        for c in gstore.list_communities(ctx.conn, limit)]
            key = (ctx.version, gstore.data_version(ctx.conn), filters)
            cached = ctx.views.get(key)
            if cached is None:
                texts = gstore.member_texts(ctx.conn, None, filters)
                terms = community_terms(texts, ctx.params.label_terms)
                cached = sorted((CommunityInfo(c, len(t), ", ".join(x for x, _ in terms.get(c, [])), terms.get(c, []))
                                 for c, t in texts.items()), key=lambda ci: (-ci.size, ci.id))
                ctx.views.clear()
                ctx.views[key] = cached
            return cached[:limit]

    def community(self, community_id: int, *, limit: int = 20, filters: SearchFilters = SearchFilters()) -> dict[str, Any]:
        """One community: label, size and its first members."""
        ctx = self.ctx
        self.labeller.refresh()
        with ctx.lock:
            rows = gstore.list_communities(ctx.conn, ids=[community_id])
            if not rows:
                raise NotFoundError(f"no community {community_id}")
            members = gstore.members_of(ctx.conn, community_id, filters, limit)
            mems = mstore.get_by_rowids(ctx.conn, members)
        c = rows[0]
        return {**CommunityInfo(c.id, c.size, c.label, c.terms).to_dict(),
                "members": [{"id": mems[r].id, "namespace": mems[r].namespace, "content": mems[r].content}
                            for r in members if r in mems]}

    def show(self, memory_id: str, *, limit: int = 10, filters: SearchFilters = SearchFilters()) -> dict[str, Any]:
        """A memory's place in the graph: entities, community, strongest links."""
        ctx = self.ctx
        m = ctx.memories.get(memory_id)
        self.labeller.refresh()
        with ctx.lock:
            comm = gstore.communities_of(ctx.conn, [m.rowid]).get(m.rowid)
            row = gstore.list_communities(ctx.conn, ids=[comm]) if comm is not None else []
            ents = self.entities.of(ctx.conn, m.content)
            counts = gstore.entity_counts(ctx.conn, list(ents))
        return {
            "id": m.id,
            "namespace": m.namespace,
            "content": m.content,
            "community": None if not row else {"id": row[0].id, "size": row[0].size, "label": row[0].label},
            "entities": [{"kind": k, "value": v, "mentions": counts.get(e, 0)} for e, (k, v) in ents.items()],
            "related": [r.to_dict() for r in self.related(memory_id, limit=limit, filters=filters)],
        }

    def stats(self) -> dict[str, Any]:
        ctx = self.ctx
        with ctx.lock:
            c = gstore.counts(ctx.conn)
            ents = gstore.entity_stats(ctx.conn)
            sizes = [row.size for row in gstore.list_communities(ctx.conn)]
            state = {k: gstore.state_get(ctx.conn, k) for k in ("rebuilt_at", "rebuilt_size", "modularity", "changes")}
        return {
            **c,
            "entities_by_kind": ents,
            "largest_communities": sizes[:5],
            "last_rebuild": {
                "at": float(state["rebuilt_at"]) if state["rebuilt_at"] else None,
                "memories": int(state["rebuilt_size"] or 0),
                "modularity": round(float(state["modularity"]), 4) if state["modularity"] else None,
            },
            "changes_since_rebuild": int(state["changes"] or 0),
            "rebuild_running": self.rebuild_running(),
            "params": {"k": ctx.params.k, "threshold": ctx.params.threshold},
        }

    def membership(self) -> dict[str, int]:
        """memory id -> stored community id, for every memory the graph has placed (no labels
        refreshed, no graph built: what `memoryd bench graph` scores against known topics)."""
        ctx = self.ctx
        with ctx.lock:
            ids = gstore.rowid_ids(ctx.conn)
            return {ids[r]: c for r, c in gstore.all_membership(ctx.conn).items() if r in ids}
