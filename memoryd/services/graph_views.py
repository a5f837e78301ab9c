"""Reading the knowledge graph: the half of GraphService that looks at it.

    links:    _links(conn, seeds): weighted neighbours (similarity links + shared entities)
    expander: expand(fused, ranked, filters, depth) (MemoryService.expander, at recall)
    browse:   related(id, limit, filters), communities(limit, filters), community(id),
              show(id), stats()
    views:    snapshot(), export(path, fmt), export_dict(), plot(path)

:class:`GraphViews` is mixed into :class:`memoryd.services.graph.GraphService`, which keeps
the graph up to date (listener, rebuild, labels, erasure hook); callers use the service.
The only writes made from here are stale labels refreshed before they are shown.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..db.driver import sqlite3
from ..errors import NotFoundError, ValidationError
from ..graph import Clustering, Link, MemoryGraph, build_memory_graph, community_terms, expand_scored
from ..models import SearchFilters
from ..search.fusion import FusedHit
from ..store import graph as gstore
from ..store import memories as mstore

if TYPE_CHECKING:
    from .graph import GraphParams
    from .memories import MemoryService

__all__ = ["GraphViews", "CommunityInfo", "RelatedMemory"]


@dataclass(frozen=True)
class CommunityInfo:
    id: int
    size: int
    label: str
    terms: list[tuple[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "size": self.size, "label": self.label,
                "terms": [[t, round(w, 4)] for t, w in self.terms]}


@dataclass(frozen=True)
class RelatedMemory:
    id: str
    namespace: str
    content: str
    weight: float  # link strength in [0, 1]
    similarity: float  # cosine of the similarity link, 0 if none
    entities: list[str]  # shared entities ("kind:value"), strongest first
    community: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "namespace": self.namespace, "content": self.content,
                "weight": round(self.weight, 4), "similarity": round(self.similarity, 4),
                "via": ("similar+entity" if self.similarity and self.entities
                        else "similar" if self.similarity else "entity"),
                "entities": self.entities, "community": self.community}


class GraphViews:
    """Reads of the stored graph, mixed into GraphService. The host provides the state
    below and two methods: ``_entities(conn, text)`` (entity id -> (kind, value)) and
    ``refresh_labels()`` (recompute stale labels before they are shown)."""

    conn: sqlite3.Connection
    lock: threading.RLock
    params: GraphParams
    memories: MemoryService  # memories.get(id): the memory, or NotFoundError
    _thread: threading.Thread | None  # the background rebuild, if any (stats)
    _view_cache: dict[tuple, list[CommunityInfo]]  # filtered community views; writers clear it
    _version: int  # bumped on every graph change made through the service

    if TYPE_CHECKING:
        def _entities(self, conn: sqlite3.Connection, text: str) -> dict[int, tuple[str, str]]: ...

        def refresh_labels(self) -> int: ...

    # ---- links and expansion at recall --------------------------------------------------------
    def _entity_links(
        self, conn: sqlite3.Connection, rowids: Sequence[int]
    ) -> dict[int, dict[int, tuple[float, list[int]]]]:
        """seed rowid -> {other rowid: (summed entity weight, shared entity ids)}; weight of
        one shared entity 1/log2(mentions) (1 for an identifier only these two memories
        share), hubs (> entity_link_cap mentions) skipped."""
        mentions = gstore.mentions_of(conn, rowids)
        members = gstore.entity_members(conn, [e for es in mentions.values() for e in es],
                                        max_members=self.params.entity_link_cap)
        out: dict[int, dict[int, tuple[float, list[int]]]] = {}
        for r, es in mentions.items():
            acc: dict[int, tuple[float, list[int]]] = {}
            for e in es:
                mem = members.get(e)
                if not mem or len(mem) < 2:
                    continue
                w = 1.0 / math.log2(len(mem))
                for o in mem:
                    if o != r:
                        s, shared = acc.get(o, (0.0, []))
                        acc[o] = (s + w, [*shared, e])
            out[r] = acc
        return out

    def _links(self, conn: sqlite3.Connection, seeds: Sequence[int]) -> dict[int, dict[int, tuple[float, float, list[int]]]]:
        """seed -> {neighbour: (weight in [0, 1], cosine, shared entity ids)}."""
        thr = self.params.threshold
        sims = gstore.links_of(conn, seeds)
        ents = self._entity_links(conn, seeds)
        out: dict[int, dict[int, tuple[float, float, list[int]]]] = {}
        for s in seeds:
            acc: dict[int, tuple[float, float, list[int]]] = {}
            for n, cos in sims.get(s, ()):
                scaled = max(0.0, (cos - thr) / (1 - thr)) if thr < 1 else 0.0
                acc[n] = (self.params.expand_similarity_weight * scaled, cos, [])
            for n, (w, shared) in ents.get(s, {}).items():
                base, cos, _ = acc.get(n, (0.0, 0.0, []))
                acc[n] = (base + w, cos, shared)
            out[s] = {n: (min(w, 1.0), cos, sh) for n, (w, cos, sh) in acc.items()}
        return out

    def expand(
        self, fused: list[FusedHit], ranked: dict[str, list[tuple[int, float]]], filters: SearchFilters, depth: int
    ) -> list[FusedHit]:
        """Recall expansion: neighbours of the top hits and memories sharing their entities,
        fused by score (:func:`memoryd.graph.expand.expand_scored`); only memories passing
        `filters` are added. Hits the graph added or lifted carry a "graph" rank."""
        cfg = self.params.expand
        if not fused:
            return fused
        seeds = [h.rowid for h in fused[: cfg.max_seeds]]
        with self.lock:
            links = self._links(self.conn, seeds)
            cand = {n for d in links.values() for n in d}
            visible = gstore.visible_rowids(self.conn, sorted(cand), filters) if cand else set()
        source = {s: [Link(n, w, "entity" if sh and cos == 0 else "similar")
                      for n, (w, cos, sh) in d.items() if n in visible] for s, d in links.items()}
        out = expand_scored([(h.rowid, h.score) for h in fused], source, cfg)
        by_id = {h.rowid: h for h in fused}
        result: list[FusedHit] = []
        graph_rank = 0
        for h in out:
            old = by_id.get(h.id)  # type: ignore[arg-type]
            ranks = dict(old.ranks) if old is not None else {}
            if h.gain > 0:
                graph_rank += 1
                ranks["graph"] = graph_rank
            result.append(FusedHit(int(h.id), h.score, ranks))  # type: ignore[arg-type]
        return result[: max(depth, len(fused))]

    # ---- reads --------------------------------------------------------------------------------
    def related(self, memory_id: str, *, limit: int = 10, filters: SearchFilters = SearchFilters()) -> list[RelatedMemory]:
        """Memories linked to this one (similarity link or shared entity), strongest first;
        only those passing `filters`."""
        if limit < 1:
            raise ValidationError("limit must be positive")
        seed = self.memories.get(memory_id)
        with self.lock:
            links = self._links(self.conn, [seed.rowid]).get(seed.rowid, {})
            visible = gstore.visible_rowids(self.conn, sorted(links), filters) if links else set()
            best = sorted((n for n in links if n in visible), key=lambda n: (-links[n][0], -links[n][1], n))[:limit]
            mems = mstore.get_by_rowids(self.conn, best)
            comm = gstore.communities_of(self.conn, best)
            names = self._entities(self.conn, seed.content)
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
            return bool(gstore.community_namespaces(self.conn, filters.exclude_namespaces))
        return True

    def communities(self, *, limit: int = 20, filters: SearchFilters = SearchFilters()) -> list[CommunityInfo]:
        """Communities, largest first, with labels from their members. With `filters` that
        hide some members (other agents' private namespaces), sizes and labels are computed
        from the visible members only."""
        if limit < 1:
            raise ValidationError("limit must be positive")
        with self.lock:
            if not self._hides_members(filters):
                self.refresh_labels()
                return [CommunityInfo(c.id, c.size, c.label, c.terms)
                        for c in gstore.list_communities(self.conn, limit)]
            key = (self._version, gstore.data_version(self.conn), filters)
            cached = self._view_cache.get(key)
            if cached is None:
                texts = gstore.member_texts(self.conn, None, filters)
                terms = community_terms(texts, self.params.label_terms)
                cached = sorted((CommunityInfo(c, len(t), ", ".join(x for x, _ in terms.get(c, [])), terms.get(c, []))
                                 for c, t in texts.items()), key=lambda ci: (-ci.size, ci.id))
                self._view_cache.clear()
                self._view_cache[key] = cached
            return cached[:limit]

    def community(self, community_id: int, *, limit: int = 20, filters: SearchFilters = SearchFilters()) -> dict[str, Any]:
        """One community: label, size and its first members."""
        self.refresh_labels()
        with self.lock:
            rows = gstore.list_communities(self.conn, ids=[community_id])
            if not rows:
                raise NotFoundError(f"no community {community_id}")
            members = gstore.members_of(self.conn, community_id, filters, limit)
            mems = mstore.get_by_rowids(self.conn, members)
        c = rows[0]
        return {**CommunityInfo(c.id, c.size, c.label, c.terms).to_dict(),
                "members": [{"id": mems[r].id, "namespace": mems[r].namespace, "content": mems[r].content}
                            for r in members if r in mems]}

    def show(self, memory_id: str, *, limit: int = 10, filters: SearchFilters = SearchFilters()) -> dict[str, Any]:
        """A memory's place in the graph: entities, community, strongest links."""
        m = self.memories.get(memory_id)
        self.refresh_labels()
        with self.lock:
            comm = gstore.communities_of(self.conn, [m.rowid]).get(m.rowid)
            row = gstore.list_communities(self.conn, ids=[comm]) if comm is not None else []
            ents = self._entities(self.conn, m.content)
            counts = gstore.entity_counts(self.conn, list(ents))
        return {
            "id": m.id,
            "namespace": m.namespace,
            "content": m.content,
            "community": None if not row else {"id": row[0].id, "size": row[0].size, "label": row[0].label},
            "entities": [{"kind": k, "value": v, "mentions": counts.get(e, 0)} for e, (k, v) in ents.items()],
            "related": [r.to_dict() for r in self.related(memory_id, limit=limit, filters=filters)],
        }

    def stats(self) -> dict[str, Any]:
        with self.lock:
            c = gstore.counts(self.conn)
            ents = gstore.entity_stats(self.conn)
            sizes = [row.size for row in gstore.list_communities(self.conn)]
            state = {k: gstore.state_get(self.conn, k) for k in ("rebuilt_at", "rebuilt_size", "modularity", "changes")}
        running = self._thread is not None and self._thread.is_alive()
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
            "rebuild_running": running,
            "params": {"k": self.params.k, "threshold": self.params.threshold},
        }

    # ---- whole-graph views (export, plot) -----------------------------------------------------
    def snapshot(self) -> tuple[MemoryGraph, Clustering, dict[int, str]]:
        """The stored graph (memory ids as node names), its communities and labels."""
        self.refresh_labels()
        with self.lock:
            ids_of = gstore.rowid_ids(self.conn)
            rowids = sorted(ids_of)
            links = gstore.all_links(self.conn)
            mentions = gstore.all_mentions(self.conn)
            membership = gstore.all_membership(self.conn)
            rows = gstore.list_communities(self.conn)
            modularity = gstore.state_get(self.conn, "modularity")
        pos = {r: i for i, r in enumerate(rowids)}
        src = [pos[a] for a, b, _ in links if a in pos and b in pos]
        dst = [pos[b] for a, b, _ in links if a in pos and b in pos]
        w = [s for a, b, s in links if a in pos and b in pos]
        ids = [ids_of[r] for r in rowids]
        graph = build_memory_graph(ids, src, dst, w, {ids_of[r]: [str(e) for e in mentions.get(r, ())] for r in rowids},
                                   self.params.graph)
        # display ids: by size, 0 = largest (stored ids drift as memories arrive)
        order = {row.id: i for i, row in enumerate(rows)}
        member_of = {ids_of[r]: order[c] for r, c in membership.items() if r in ids_of and c in order}
        sizes = Counter(member_of.values())
        clustering = Clustering(member_of, float(modularity) if modularity else float("nan"), float("nan"),
                                len(rows), dict(sizes))
        labels = {order[row.id]: row.label for row in rows}
        return graph, clustering, labels

    def export(self, path: str | Path, fmt: str = "json") -> dict[str, Any]:
        """Write the graph (ids, weights, communities, labels; never memory text)."""
        from ..graph.export import write_graphml, write_json

        graph, clustering, labels = self.snapshot()
        if fmt == "json":
            out = write_json(graph, path, clustering.membership, labels, clustering.modularity)
        elif fmt == "graphml":
            out = write_graphml(graph, path, clustering.membership, labels)
        else:
            raise ValidationError(f"unknown export format {fmt!r}; use graphml or json")
        return {"path": str(out), "format": fmt, "nodes": graph.n_nodes, "edges": graph.n_edges,
                "communities": clustering.n_communities}

    def export_dict(self) -> dict[str, Any]:
        from ..graph.export import to_json_dict

        graph, clustering, labels = self.snapshot()
        return to_json_dict(graph, clustering.membership, labels, clustering.modularity)

    def plot(self, path: str | Path, *, max_labels: int = 12) -> dict[str, Any]:
        """PNG of the communities (largest 20 coloured, top labels drawn)."""
        from ..graph.plot import plot_communities

        graph, clustering, labels = self.snapshot()
        out = plot_communities(graph, clustering, labels, path, max_labels=max_labels)
        return {"path": str(out), "nodes": graph.n_nodes, "edges": graph.n_edges,
                "communities": clustering.n_communities}

    def membership(self) -> dict[str, int]:
        """memory id -> stored community id, for every memory the graph has placed (no labels
        refreshed, no graph built: what `memoryd bench graph` scores against known topics)."""
        with self.lock:
            ids = gstore.rowid_ids(self.conn)
            return {ids[r]: c for r, c in gstore.all_membership(self.conn).items() if r in ids}
