"""The in-RAM indexes of the memories — vectors, BM25 and the session-context vectors —
loaded on first use and kept in step with the database, including writes made through
other connections (another CLI, the server).

A collaborator held by :class:`memoryd.services.memories.MemoryService` as `indexes`. Its
state: the three indexes (None until loaded) and the change markers they were last brought
up to (`data_version`, the deletion-log position, the vectors-rewritten counter). Callers
hold the service's lock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from ...db import data_version
from ...db.driver import sqlite3
from ...embedding import Embedder
from ...search.bm25 import BM25Index
from ...search.vector_index import VectorIndex
from ...store import memories as mstore
from ...store import vectors as vstore
from ..session_context import SessionContext

__all__ = ["MemoryIndexes"]

log = logging.getLogger("memoryd.services.memories")


class MemoryIndexes:
    def __init__(self, conn: sqlite3.Connection, embedder: Embedder, *, lock: threading.RLock):
        self.conn = conn
        self.embedder = embedder
        self.lock = lock
        self.vectors: VectorIndex | None = None
        self.bm25: BM25Index | None = None
        self.context: SessionContext | None = None  # context vectors of session memories
        self.data_version: int | None = None  # PRAGMA data_version when last synced
        self.deletion_seq = 0  # newest memory_deletions entry applied to the indexes
        self.vectors_rewritten = 0  # memory_rowid_seq.vectors_rewritten when last compared

    def current(self) -> tuple[VectorIndex, BM25Index]:
        """The vector and BM25 indexes, loaded or brought up to date."""
        with self.lock:
            if self.vectors is None or self.bm25 is None or self.context is None:
                self.load()
            else:
                self.sync()
            assert self.vectors is not None and self.bm25 is not None
            return self.vectors, self.bm25

    def current_context(self) -> SessionContext:
        with self.lock:
            self.current()
            assert self.context is not None
            return self.context

    def embedder_ready(self) -> None:
        wait = getattr(self.embedder, "wait_ready", None)
        if wait:
            wait()

    def load(self) -> None:
        self.embedder_ready()
        # read the change markers first: a write landing during the load is seen again at
        # the next sync (harmless), never missed
        self.data_version, self.deletion_seq = data_version(self.conn), mstore.last_deletion(self.conn)
        self.vectors_rewritten = mstore.vectors_rewritten(self.conn)
        self.vectors, self.bm25 = VectorIndex(self.embedder.dim), BM25Index()
        self.context = SessionContext(self.embedder.dim)
        self.add_rows(vstore.load_index_rows(self.conn, self.embedder.name))
        self.context.load(self.conn, self.embedder.name)

    def add_rows(self, rows) -> None:
        rowids, namespaces, contents, mat = rows
        if rowids:
            self.vectors.add(rowids, mat, namespaces)
            self.bm25.add(rowids, contents, namespaces)

    def sync(self) -> None:
        """Pick up writes made through other connections before answering. Rowids are never
        reused (migration 0008): rows deleted elsewhere come from the deletion log and leave
        both indexes, new rows are those above our highest."""
        dv = data_version(self.conn)
        if dv == self.data_version:
            return
        idx = self.vectors
        seq, gone, complete = mstore.deletions_after(self.conn, self.deletion_seq)
        if not complete:  # we fell behind the pruned log: rebuild rather than guess
            log.info("deletion log pruned past this process's view: reloading the indexes")
            self.load()
            return
        if gone:
            self.drop_rows(gone)
        self.deletion_seq = seq
        self.add_rows(vstore.load_index_rows(self.conn, self.embedder.name, idx.max_rowid))
        rewritten = mstore.vectors_rewritten(self.conn)
        if rewritten != self.vectors_rewritten:  # vectors written for older rows (reindex, bulk chunks)
            self.vectors_rewritten = rewritten
            present = set(vstore.all_rowids(self.conn, self.embedder.name).tolist())
            stale = [r for r in idx.rowids().tolist() if r not in present]
            idx.remove(stale)
            self.bm25.remove(stale)
            missing = sorted(present - set(idx.rowids().tolist()))
            if missing:  # vectors written below our max rowid
                self.add_rows(vstore.load_index_rows(self.conn, self.embedder.name, rowids=missing))
        self.context.catch_up(self.conn, self.embedder.name)
        self.data_version = dv

    def reset(self) -> None:
        with self.lock:
            self.vectors = self.bm25 = self.context = None

    def drop_rows(self, rowids: Sequence[int]) -> None:
        """Deleted rows leave every loaded RAM index; the context index also drops the
        vectors that were computed from their text."""
        if self.vectors is not None:
            self.vectors.remove(rowids)
        if self.bm25 is not None:
            self.bm25.remove(rowids)
        if self.context is not None:
            self.context.drop(rowids)
