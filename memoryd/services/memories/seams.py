"""The three seams through which derived stores hang off the memory service, so that it
knows nothing about them: listeners (trust, graph) inside the write transaction, the read
policy (trust) and the expander (the knowledge graph) at recall."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ...db.driver import sqlite3
from ...models import Memory, SearchFilters, SearchHit
from ...search.fusion import FusedHit

__all__ = ["MemoryListener", "ReadPolicy", "Expander"]


class MemoryListener(Protocol):
    """Derived stores (graph, trust) hook in here; called inside the write transaction."""

    def after_insert(self, conn: sqlite3.Connection, memories: list[Memory], vectors: np.ndarray) -> None: ...

    def before_delete(self, conn: sqlite3.Connection, memories: list[Memory]) -> None: ...


class ReadPolicy(Protocol):
    """Re-ranks and filters fused hits at recall (trust: rank by relevance x trust, leave
    quarantined memories out). Gets more candidates than `limit`, ranks them all and returns
    the first `limit` (all when None)."""

    def apply(self, hits: list[SearchHit], query: str, include_quarantined: bool, now: float,
              limit: int | None = None) -> list[SearchHit]: ...


class Expander(Protocol):
    """Graph expansion at recall (`SearchOptions.expand`): given the fused candidates, adds
    graph neighbours of the top hits and memories sharing their entities, and returns the
    re-ranked fused list (FusedHit with a "graph" rank where the graph contributed). Must
    respect `filters` (namespaces, exclusions, the rest) for every memory it adds."""

    def expand(
        self, fused: list[FusedHit], ranked: dict[str, list[tuple[int, float]]],
        filters: SearchFilters, depth: int,
    ) -> list[FusedHit]: ...
