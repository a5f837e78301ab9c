"""Weighted neighbours of memories in the stored graph: similarity links and shared entities."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...db.driver import sqlite3
from ...store import graph as gstore
from .context import GraphContext

__all__ = ["LinkReader"]


class LinkReader:
    def __init__(self, ctx: GraphContext):
        self.ctx = ctx

    def entity_links(
        self, conn: sqlite3.Connection, rowids: Sequence[int]
    ) -> dict[int, dict[int, tuple[float, list[int]]]]:
        """seed rowid -> {other rowid: (summed entity weight, shared entity ids)}; weight of
        one shared entity 1/log2(mentions) (1 for an identifier only these two memories
        share), hubs (> entity_link_cap mentions) skipped."""
        mentions = gstore.mentions_of(conn, rowids)
        members = gstore.entity_members(conn, [e for es in mentions.values() for e in es],
                                        max_members=self.ctx.params.entity_link_cap)
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

    def links(self, conn: sqlite3.Connection, seeds: Sequence[int]) -> dict[int, dict[int, tuple[float, float, list[int]]]]:
        """seed -> {neighbour: (weight in [0, 1], cosine, shared entity ids)}."""
        p = self.ctx.params
        thr = p.threshold
        sims = gstore.links_of(conn, seeds)
        ents = self.entity_links(conn, seeds)
        out: dict[int, dict[int, tuple[float, float, list[int]]]] = {}
        for s in seeds:
            acc: dict[int, tuple[float, float, list[int]]] = {}
            for n, cos in sims.get(s, ()):
                scaled = max(0.0, (cos - thr) / (1 - thr)) if thr < 1 else 0.0
                acc[n] = (p.expand_similarity_weight * scaled, cos, [])
            for n, (w, shared) in ents.get(s, {}).items():
                base, cos, _ = acc.get(n, (0.0, 0.0, []))
                acc[n] = (base + w, cos, shared)
            out[s] = {n: (min(w, 1.0), cos, sh) for n, (w, cos, sh) in acc.items()}
        return out
