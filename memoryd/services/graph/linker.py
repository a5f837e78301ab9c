"""New memories into the graph: entities, kNN links, and the community each one links to most."""

from __future__ import annotations

import numpy as np

from ...db.driver import sqlite3
from ...graph import assign_community, link_weights_for_new, neighbours_of
from ...graph.knn import batch_neighbours
from ...models import Memory
from ...store import graph as gstore
from .context import GraphContext
from .entities import EntityIds

__all__ = ["Linker"]

_GEMM_BATCH = 8  # batches at least this large score against the whole index in one matrix product


class Linker:
    def __init__(self, ctx: GraphContext, entities: EntityIds):
        self.ctx = ctx
        self.entities = entities

    def add(self, conn: sqlite3.Connection, mems: list[Memory], vecs: np.ndarray) -> None:
        """Entities, kNN links and a community for each new memory (one batch)."""
        p = self.ctx.params
        rowids = [m.rowid for m in mems]
        ents = [self.entities.of(conn, m.content) for m in mems]
        all_eids = list({e for d in ents for e in d})
        members = gstore.entity_members(conn, all_eids, max_members=p.graph.max_entity_members)
        gstore.add_mentions(conn, [(r, e, kind) for r, d in zip(rowids, ents) for e, (kind, _) in d.items()])

        neighbours = self.neighbours(rowids, vecs)  # per new memory: [(rowid, cosine)]
        gstore.add_links(conn, [(r, n, s) for r, nb in zip(rowids, neighbours) for n, s in nb])

        known = gstore.communities_of(conn, list({n for nb in neighbours for n, _ in nb}))
        assigned: list[tuple[int, int]] = []
        for r, d, nb in zip(rowids, ents, neighbours):
            weights = link_weights_for_new(nb, d.keys(), members, p.graph)
            c = assign_community(weights, known, new_id=-1)
            if c == -1:
                c = gstore.new_community(conn)
            known[r] = c
            assigned.append((r, c))
            for e in d:  # batch mates see each other's entities
                members.setdefault(e, []).append(r)
        gstore.set_membership(conn, assigned)

    def neighbours(self, rowids: list[int], vecs: np.ndarray) -> list[list[tuple[int, float]]]:
        """Each new memory's k nearest (cosine >= threshold) among stored memories (RAM
        index) and the rest of its batch, best first."""
        p = self.ctx.params
        index = self.ctx.memories.index  # stored memories; this batch is added after commit
        out: list[list[tuple[int, float]]] = []
        batch = vecs @ vecs.T if len(rowids) > 1 else None  # (b, b)
        ix_rowids, mat = index.arrays()
        stored: list[dict[int, float]]
        if len(rowids) >= _GEMM_BATCH and len(ix_rowids):
            stored = batch_neighbours(ix_rowids, mat, vecs, p.k + 1, p.threshold)
        elif len(ix_rowids) < index.exact_below:  # exact scan, single-threaded (see knn.neighbours_of)
            stored = []
            for i in range(len(rowids)):
                nb = neighbours_of(vecs[i], mat, p.k + 1, p.threshold)
                stored.append({int(ix_rowids[j]): float(w) for j, w in zip(nb.index.tolist(), nb.weight.tolist())})
        else:  # large store, a few memories: the index's binary shortlist + exact re-score, as recall does
            stored = [{h.rowid: h.score for h in index.search(vecs[i], p.k + 1)} for i in range(len(rowids))]
        for i, r in enumerate(rowids):
            cand = {n: s for n, s in stored[i].items() if n != r}
            if batch is not None:
                row = batch[i].copy()
                row[i] = -np.inf
                for j in np.argsort(-row)[: p.k]:
                    cand[rowids[int(j)]] = max(cand.get(rowids[int(j)], -1.0), float(row[j]))
            best = sorted(((n, s) for n, s in cand.items() if s >= p.threshold), key=lambda x: (-x[1], x[0]))
            out.append(best[: p.k])
        return out
