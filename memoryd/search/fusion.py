"""Reciprocal rank fusion of ranked legs (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["FusedHit", "rrf_fuse", "RRF_K"]

RRF_K = 60  # Cormack et al. 2009; flattens the head so one leg cannot dominate


@dataclass
class FusedHit:
    rowid: int
    score: float
    ranks: dict[str, int] = field(default_factory=dict)  # leg -> 1-based rank


def rrf_fuse(
    legs: Mapping[str, Sequence[int]],
    *,
    k: int = RRF_K,
    weights: Mapping[str, float] | None = None,
) -> list[FusedHit]:
    """score(d) = sum over legs of w_leg / (k + rank_leg(d)); ties broken by best rank,
    then rowid, so results are deterministic."""
    hits: dict[int, FusedHit] = {}
    for leg, ranked in legs.items():
        w = 1.0 if weights is None else weights.get(leg, 1.0)
        for rank, rowid in enumerate(ranked, start=1):
            h = hits.get(rowid)
            if h is None:
                h = hits[rowid] = FusedHit(rowid, 0.0)
            if leg in h.ranks:
                continue
            h.ranks[leg] = rank
            h.score += w / (k + rank)
    return sorted(hits.values(), key=lambda h: (-h.score, min(h.ranks.values()), h.rowid))
