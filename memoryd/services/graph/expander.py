"""Graph-expanded recall (``MemoryService.expander``): neighbours of the top hits fused in."""

from __future__ import annotations

from ...graph import Link, expand_scored
from ...models import SearchFilters
from ...search.fusion import FusedHit
from ...store import graph as gstore
from .context import GraphContext
from .links import LinkReader

__all__ = ["Expander"]


class Expander:
    def __init__(self, ctx: GraphContext, links: LinkReader):
        self.ctx = ctx
        self.links = links

    def expand(
        self, fused: list[FusedHit], ranked: dict[str, list[tuple[int, float]]], filters: SearchFilters, depth: int
    ) -> list[FusedHit]:
        """Recall expansion: neighbours of the top hits and memories sharing their entities,
        fused by score (:func:`memoryd.graph.expand.expand_scored`); only memories passing
        `filters` are added. Hits the graph added or lifted carry a "graph" rank."""
        ctx = self.ctx
        cfg = ctx.params.expand
        if not fused:
            return fused
        seeds = [h.rowid for h in fused[: cfg.max_seeds]]
        with ctx.lock:
            links = self.links.links(ctx.conn, seeds)
            cand = {n for d in links.values() for n in d}
            visible = gstore.visible_rowids(ctx.conn, sorted(cand), filters) if cand else set()
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
