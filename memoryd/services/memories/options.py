"""How a recall runs: legs, depth, fusion, trust and graph expansion."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SearchOptions"]


@dataclass(frozen=True)
class SearchOptions:
    limit: int = 10
    legs: tuple[str, ...] = ("bm25", "vector")
    depth: int = 50  # candidates taken from each leg before fusion
    query_vector: np.ndarray | None = field(default=None, compare=False)  # skip embedding
    bm25_backend: str = "ram"  # "ram" (fast, default) or "fts5" (SQLite's own ranking)
    fusion: str = "relative"  # "relative" (min-max score fusion, measured best) or "rrf"
    trust: bool = True  # apply the read policy (trust ranking, quarantine) when one is installed
    include_quarantined: bool = False  # with trust: also return quarantined memories, marked
    expand: bool = False  # fuse in graph neighbours of the top hits (needs an expander)
