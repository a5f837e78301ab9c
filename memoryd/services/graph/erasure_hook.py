"""The graph's part in an erasure (``ErasureService.register_hook``, name "graph"): drop
what was derived from the erased memories and name what must be gone from the files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ...db.driver import sqlite3
from ...models import Memory
from ...store import erasure as estore
from ...store import graph as gstore
from ...store import memories as mstore
from .context import GraphContext
from .entities import EntityIds
from .labels import Labeller

__all__ = ["GraphErasure"]


class GraphErasure:
    def __init__(self, ctx: GraphContext, entities: EntityIds, labeller: Labeller):
        self.ctx = ctx
        self.entities = entities
        self.labeller = labeller

    def erase_derived(self, conn: sqlite3.Connection, memories: Sequence[Memory]) -> Mapping[str, int]:
        """Inside the erasure's delete transaction: drop the memories' mentions (and the
        entities only they mention), links and membership, then relabel the communities
        they were in from the surviving members. Idempotent."""
        rowids = [m.rowid for m in memories]
        with self.ctx.lock:
            before = gstore.counts(conn)
            affected = sorted(set(gstore.communities_of(conn, rowids).values()))
            removed = gstore.clear_memories(conn, rowids)
            after = gstore.counts(conn)
            alive = [row.id for row in gstore.list_communities(conn, ids=affected)] if affected else []
            relabelled = self.labeller.relabel(conn, alive) if alive else 0
            self.labeller.terms.drop()  # counted the erased texts; recounted from the survivors when next needed
            self.ctx.changed()
        return {"entities": before["entities"] - after["entities"], "mentions": removed["mentions"],
                "links": removed["links"], "memberships": removed["memberships"],
                "communities_relabelled": relabelled}

    def forensic_tokens(self, memories: Sequence[Memory]) -> list[str]:
        """Entity strings of the erased memories that no other memory mentions (and no
        surviving text contains): after the erasure they must be nowhere in the files."""
        conn = self.ctx.conn
        erased = {m.rowid for m in memories}
        with self.ctx.lock:
            found: dict[int, set[str]] = {}
            for m in memories:
                for e, (_kind, value) in self.entities.of(conn, m.content).items():
                    found.setdefault(e, set()).update({value, value.lower()})
            others = gstore.entity_members(conn, list(found))
            out: list[str] = []
            for e, values in found.items():
                if set(others.get(e, ())) - erased:
                    continue
                for v in sorted(values):
                    rows = mstore.get_by_rowids(conn, [r for r in estore.fts_phrase_rowids(conn, v)
                                                       if r not in erased])
                    if not any(v.lower() in m.content.lower() for m in rows.values()):
                        out.append(v)
        return sorted(set(out))
