"""Fusion of ranked legs (pure): relative score fusion (default) and reciprocal rank fusion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["FusedHit", "rrf_fuse", "relative_score_fuse", "fuse", "RRF_K"]

RRF_K = 60  # Cormack et al. 2009; flattens the head so one leg cannot dominate


@dataclass
class FusedHit:
    rowid: int
    score: float
    ranks: dict[str, int] = field(default_factory=dict)  # leg -> 1-based rank


def _credit(hits: dict[int, FusedHit], rowid: int, leg: str, rank: int, gain: float) -> None:
    """A leg's vote for `rowid` at `rank`; only its first listing of a document counts."""
    h = hits.get(rowid)
    if h is None:
        h = hits[rowid] = FusedHit(rowid, 0.0)
    if leg not in h.ranks:
        h.ranks[leg] = rank
        h.score += gain


def _ranked(hits: dict[int, FusedHit]) -> list[FusedHit]:
    """Best score first; ties broken by best rank, then rowid (deterministic)."""
    return sorted(hits.values(), key=lambda h: (-h.score, min(h.ranks.values()), h.rowid))


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
            _credit(hits, rowid, leg, rank, w / (k + rank))
    return _ranked(hits)


def relative_score_fuse(
    legs: Mapping[str, Sequence[tuple[int, float]]],
    *,
    weights: Mapping[str, float] | None = None,
) -> list[FusedHit]:
    """Relative score fusion: each leg's scores are min-max normalised over its own
    candidates to [0, 1], then summed with weights (default equal). A document missing
    from a leg gets 0 from it. Unlike RRF, a leg that is very sure (one score far above
    the rest) keeps that margin; measured on the bench corpus (5k memories, 600 queries):
    R@5 1.000 / MRR 0.993, against RRF k=60 0.960 / 0.934, BM25 0.997 / 0.962, vector
    0.893 / 0.828 (docs/benchmarks.md)."""
    hits: dict[int, FusedHit] = {}
    for leg, ranked in legs.items():
        if not ranked:
            continue
        w = 1.0 if weights is None else weights.get(leg, 1.0)
        scores = [s for _, s in ranked]
        lo, hi = min(scores), max(scores)
        for rank, (rowid, s) in enumerate(ranked, start=1):
            _credit(hits, rowid, leg, rank, w * ((s - lo) / (hi - lo) if hi > lo else 1.0))
    return _ranked(hits)


def fuse(
    method: str, legs: Mapping[str, Sequence[tuple[int, float]]], weights: Mapping[str, float] | None = None,
) -> list[FusedHit]:
    """Dispatch on the fusion method name ('relative' or 'rrf'); scores higher = better."""
    if method == "relative":
        return relative_score_fuse(legs, weights=weights)
    if method == "rrf":
        return rrf_fuse({leg: [r for r, _ in hits] for leg, hits in legs.items()}, weights=weights)
    raise ValueError(f"unknown fusion method {method!r}")
