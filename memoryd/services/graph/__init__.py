"""The knowledge graph in the running system: entities, kNN links and Leiden communities
kept in step with every write, graph-expanded recall, and erasure of everything derived.

:class:`GraphService` is a facade over small collaborators that share one explicit
:class:`~.context.GraphContext` (connection, lock, clock, params, view version):

    listener   after_insert / before_delete (MemoryService.listeners, inside the write
               transaction): :class:`~.linker.Linker` adds entities (keyed hashes,
               :class:`~.entities.EntityIds`), kNN links and a community for each new memory;
               :class:`~.rebuild.Rebuilder` counts the change and re-clusters when enough has
               changed (inline while small, else on a background thread). Deletes need no SQL
               here: mentions, links and membership cascade; triggers drop orphaned entities
               and mark the labels of affected communities stale.
    labels     :class:`~.labels.Labeller` recomputes stale labels before they are read
               (:class:`~.term_df.TermDF`: corpus term counts in RAM)
    expander   :class:`~.expander.Expander` (MemoryService.expander, ``expand=True``)
    reads      :class:`~.browse.GraphBrowser` (related, communities, community, show, stats),
               :class:`~.export.GraphExporter` (snapshot, export, export_dict, plot); both over
               :class:`~.links.LinkReader`
    erasure    :class:`~.erasure_hook.GraphErasure` (``erase_derived`` / ``forensic_tokens``,
               hook name "graph")

Pure computation lives in :mod:`memoryd.graph`; SQL in :mod:`memoryd.store.graph`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...config import Settings
from ...db.driver import sqlite3
from ...graph import Clustering, MemoryGraph
from ...models import Memory, SearchFilters
from ...search.fusion import FusedHit
from ..memories import MemoryService
from .browse import GraphBrowser
from .context import GraphContext
from .entities import EntityIds
from .erasure_hook import GraphErasure
from .expander import Expander
from .export import GraphExporter
from .labels import Labeller
from .linker import Linker
from .links import LinkReader
from .params import GraphParams
from .rebuild import Rebuilder
from .records import CommunityInfo, RebuildReport, RelatedMemory
from .term_df import TermDF

__all__ = ["GraphService", "GraphParams", "CommunityInfo", "RelatedMemory", "RebuildReport"]


class GraphService:
    name = "graph"  # erasure hook name

    def __init__(
        self,
        conn: sqlite3.Connection,
        memories: MemoryService,
        *,
        lock: threading.RLock,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        params: GraphParams = GraphParams(),
    ):
        self.settings = settings
        self.ctx = GraphContext(conn, memories, lock, clock, params)
        self.entities = EntityIds()
        self.terms = TermDF()
        self.labeller = Labeller(self.ctx, self.terms)
        self.linker = Linker(self.ctx, self.entities)
        self.rebuilder = Rebuilder(self.ctx, self.entities, self.linker, self.labeller)
        self.links = LinkReader(self.ctx)
        self.expander = Expander(self.ctx, self.links)
        self.browser = GraphBrowser(self.ctx, self.entities, self.links, self.labeller,
                                    lambda: self.rebuilder.running)
        self.exporter = GraphExporter(self.ctx, self.labeller)
        self.eraser = GraphErasure(self.ctx, self.entities, self.labeller)
        self.last_insert_ms: float | None = None  # graph work of the last after_insert (bench)

    def install(self) -> GraphService:
        """Hook into the memory service: write listener and recall expander."""
        if self not in self.memories.listeners:
            self.memories.listeners.append(self)
        self.memories.expander = self
        return self

    # ---- shared state, under the names callers know ---------------------------------------------
    conn = property(lambda self: self.ctx.conn)
    memories = property(lambda self: self.ctx.memories)
    lock = property(lambda self: self.ctx.lock)
    clock = property(lambda self: self.ctx.clock)

    @property
    def params(self) -> GraphParams:
        return self.ctx.params

    @params.setter
    def params(self, value: GraphParams) -> None:
        self.ctx.params = value

    @property
    def last_rebuild(self) -> RebuildReport | None:
        return self.rebuilder.last

    # ---- listener -------------------------------------------------------------------------------
    def after_insert(self, conn: sqlite3.Connection, memories: list[Memory], vectors: np.ndarray) -> None:
        if not memories:
            return
        t0 = time.perf_counter()
        with self.lock:
            self.linker.add(conn, memories, np.asarray(vectors, dtype=np.float32))
            self.terms.add((m.content for m in memories), +1)
            self.ctx.changed()
            self.last_insert_ms = (time.perf_counter() - t0) * 1000
            self.rebuilder.note_changes(conn, len(memories))

    def before_delete(self, conn: sqlite3.Connection, memories: list[Memory]) -> None:
        # mentions, links and membership cascade with the rows; triggers drop orphaned
        # entities and blank the labels of the communities they leave
        with self.lock:
            self.terms.add((m.content for m in memories), -1)
            self.ctx.changed()
            self.rebuilder.note_changes(conn, len(memories), maybe_rebuild=False)

    # ---- rebuilds and labels --------------------------------------------------------------------
    def rebuild(self, *, reextract: bool = False, progress: Callable[[str], None] | None = None) -> RebuildReport:
        """Recompute entities (missing ones, or all with ``reextract``), kNN links, Leiden
        communities and every label; one write transaction at the end."""
        return self.rebuilder.rebuild(reextract=reextract, progress=progress)

    def rebuild_in_background(self) -> threading.Thread | None:
        """Start a rebuild on a daemon thread (one at a time; a request while one runs
        schedules another). Returns the thread, or None if one is already running."""
        return self.rebuilder.in_background()

    def wait_for_rebuild(self, timeout: float | None = None) -> None:
        self.rebuilder.wait(timeout)

    def refresh_labels(self) -> int:
        """Relabel communities whose membership changed since their label was computed."""
        return self.labeller.refresh()

    # ---- recall expander ------------------------------------------------------------------------
    def expand(
        self, fused: list[FusedHit], ranked: dict[str, list[tuple[int, float]]], filters: SearchFilters, depth: int
    ) -> list[FusedHit]:
        return self.expander.expand(fused, ranked, filters, depth)

    # ---- reads ----------------------------------------------------------------------------------
    def related(self, memory_id: str, *, limit: int = 10, filters: SearchFilters = SearchFilters()) -> list[RelatedMemory]:
        return self.browser.related(memory_id, limit=limit, filters=filters)

    def communities(self, *, limit: int = 20, filters: SearchFilters = SearchFilters()) -> list[CommunityInfo]:
        return self.browser.communities(limit=limit, filters=filters)

    def community(self, community_id: int, *, limit: int = 20, filters: SearchFilters = SearchFilters()) -> dict[str, Any]:
        return self.browser.community(community_id, limit=limit, filters=filters)

    def show(self, memory_id: str, *, limit: int = 10, filters: SearchFilters = SearchFilters()) -> dict[str, Any]:
        return self.browser.show(memory_id, limit=limit, filters=filters)

    def stats(self) -> dict[str, Any]:
        return self.browser.stats()

    def membership(self) -> dict[str, int]:
        return self.browser.membership()

    def snapshot(self) -> tuple[MemoryGraph, Clustering, dict[int, str]]:
        return self.exporter.snapshot()

    def export(self, path: str | Path, fmt: str = "json") -> dict[str, Any]:
        return self.exporter.export(path, fmt)

    def export_dict(self) -> dict[str, Any]:
        return self.exporter.export_dict()

    def plot(self, path: str | Path, *, max_labels: int = 12) -> dict[str, Any]:
        return self.exporter.plot(path, max_labels=max_labels)

    # ---- erasure hook ---------------------------------------------------------------------------
    def erase_derived(self, conn: sqlite3.Connection, memories: Sequence[Memory]) -> Mapping[str, int]:
        return self.eraser.erase_derived(conn, memories)

    def forensic_tokens(self, memories: Sequence[Memory]) -> list[str]:
        return self.eraser.forensic_tokens(memories)
