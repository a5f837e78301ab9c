"""The memory service: store, supersede, forget, read and recall memories, with authority.

`MemoryService` is what `App.memories` is; its collaborators, each with its own state:

    indexes.py   MemoryIndexes  the RAM indexes (vectors, BM25, session context), kept in step
    writes.py    MemoryWriter   validate, embed, insert in chunks; delete with the deletion log
    reads.py     MemoryReader   hybrid recall, fusion, expansion, read policy, hydration
    seams.py     the listener / read-policy / expander protocols derived stores implement
    options.py   SearchOptions
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import numpy as np

from ...db import transaction
from ...db.driver import sqlite3
from ...embedding import Embedder
from ...errors import AuthError, NotFoundError, ValidationError
from ...models import Memory, NewMemory, RememberResult, SearchFilters, SearchHit
from ...search.bm25 import BM25Index
from ...search.vector_index import VectorIndex
from ...store import memories as mstore
from ...validation import validate_tags
from ..authority import OPERATOR, Caller
from ..session_context import SessionContext
from .indexes import MemoryIndexes
from .options import SearchOptions
from .reads import MemoryReader
from .seams import Expander, MemoryListener, ReadPolicy
from .writes import MemoryWriter

__all__ = ["MemoryService", "SIMILAR_COSINE"]

SIMILAR_COSINE = 0.9  # remember() names an existing memory this close as a candidate to supersede


class MemoryService:
    def __init__(
        self,
        conn: sqlite3.Connection,
        embedder: Embedder,
        *,
        max_bytes: int,
        lock: threading.RLock,
        batch_size: int = 64,
        clock: Callable[[], float] = time.time,
    ):
        self.conn, self.embedder, self.lock, self.clock = conn, embedder, lock, clock
        self.batch_size = batch_size  # also the bulk size of `memoryd reindex`
        self.listeners: list[MemoryListener] = []
        self.read_policy: ReadPolicy | None = None  # None: plain relevance ranking
        self.expander: Expander | None = None  # the knowledge graph installs itself here
        self.indexes = MemoryIndexes(conn, embedder, lock=lock)
        self.writer = MemoryWriter(conn, embedder, self.indexes, lock=lock, max_bytes=max_bytes,
                                   batch_size=batch_size, clock=lambda: self.clock(), listeners=self.listeners)
        self.reader = MemoryReader(conn, embedder, self.indexes, lock=lock, clock=lambda: self.clock())

    # ---- in-RAM indexes (indexes.py) -------------------------------------------------------
    @property
    def index(self) -> VectorIndex:
        return self.indexes.current()[0]

    @property
    def text_index(self) -> BM25Index:
        return self.indexes.current()[1]

    @property
    def context(self) -> SessionContext:
        return self.indexes.current_context()

    def embedder_ready(self) -> None:
        self.indexes.embedder_ready()

    def reset_index(self) -> None:
        self.indexes.reset()

    def evict(self, rowids: Sequence[int]) -> None:
        """Drop deleted rows from the in-RAM indexes now, if they are loaded (erasure):
        their vectors are zeroed, words no other memory uses leave the BM25 vocabulary."""
        with self.lock:
            self.indexes.drop_rows(rowids)

    # ---- writes (writes.py) ----------------------------------------------------------------
    def remember(self, new: NewMemory, *, caller: Caller = OPERATOR, supersedes: str | None = None) -> RememberResult:
        """Store one memory. ``supersedes``: id of a memory this one replaces; the old one stays
        stored but leaves search. An agent may supersede only memories it wrote; the operator
        (provenance.by_operator) any. Without it, a nearly identical memory of the namespace is
        returned as ``similar`` so that the caller can supersede it instead of piling up copies
        (only one recall would show it: never a quarantined one)."""
        old = self._supersedable(supersedes, new, caller) if supersedes is not None else None
        res = self.remember_many([new], caller=caller)[0]
        if old is not None:
            if res.memory.id == old.id:
                raise ValidationError("the new content is the memory being superseded: nothing to replace")
            with self.lock, transaction(self.conn):
                if mstore.superseded_among(self.conn, [old.rowid]):
                    raise ValidationError(f"memory {old.id} was already superseded")
                mstore.supersede(self.conn, old.rowid, res.memory.rowid, self.clock())
            return replace(res, supersedes=old.id)
        if res.duplicate:
            return res
        sim = self._similar(res.memory, caller)
        return replace(res, similar=sim[0], similarity=sim[1]) if sim else res

    def superseded_by(self, mem_id: str, *, caller: Caller = OPERATOR) -> str | None:
        """Id of the memory that replaced this one (`update`, `remember(supersedes=)`), when the
        caller may read both; None while it is current."""
        m = self.get(mem_id, caller=caller)
        with self.lock:
            new_id = mstore.superseded_by(self.conn, m.rowid)
        if new_id is None:
            return None
        try:
            return self.get(new_id, caller=caller).id
        except (NotFoundError, AuthError):
            return None

    def set_tags(self, mem_id: str, tags: Sequence[str], *, caller: Caller = OPERATOR) -> Memory:
        """Replace a memory's tags, keeping its text, id and history (`memoryd retag`, the web
        page). An agent needs 'write' and may retag only memories it wrote; the operator any."""
        caller.require("write", "edit tags")
        clean = validate_tags(tags)
        m = self.get(mem_id, caller=caller)
        if not caller.operator and not caller.owns(m.provenance.agent_id):
            raise AuthError(f"memory {mem_id} was written by another agent: an agent may retag only its own memories")
        with self.lock, transaction(self.conn):
            mstore.set_tags(self.conn, m.rowid, clean, self.clock())
            out = mstore.get_by_id(self.conn, mem_id)
        assert out is not None  # same transaction
        return out

    def _supersedable(self, old_id: str, new: NewMemory, caller: Caller) -> Memory:
        old = self.get(old_id, caller=caller)
        mine = (old.provenance.agent_id == new.provenance.agent_id) if caller.operator else caller.owns(old.provenance.agent_id)
        if not mine and not (caller.operator and new.provenance.by_operator):
            raise AuthError(f"memory {old_id} was written by another agent: an agent may supersede only its own memories")
        with self.lock:
            if mstore.superseded_among(self.conn, [old.rowid]):
                raise ValidationError(f"memory {old_id} was already superseded by {mstore.superseded_by(self.conn, old.rowid)}")
        return old

    def _similar(self, m: Memory, caller: Caller) -> tuple[Memory, float] | None:
        """The closest other memory of m's namespace, when at least SIMILAR_COSINE alike and
        recall would show it: readable by the caller, not superseded, and not quarantined
        (the read policy decides, as at recall: the hint quotes its text to the agent)."""
        with self.lock:
            index = self.index
            vec = index.vector(m.rowid)
            if vec is None:
                return None
            hits = [h for h in index.search(vec, 3, index.namespace_mask((m.namespace,), ()))
                    if h.rowid != m.rowid and h.score >= SIMILAR_COSINE]
            gone = mstore.superseded_among(self.conn, [h.rowid for h in hits])
            hits = [h for h in hits if h.rowid not in gone]
            if not hits:
                return None
            mems = mstore.get_by_rowids(self.conn, [h.rowid for h in hits])
        found = [SearchHit(mems[h.rowid], float(h.score), {"vector": i + 1}, "")
                 for i, h in enumerate(hits) if h.rowid in mems and caller.can_use(mems[h.rowid].namespace)]
        if found and self.read_policy is not None:
            shown = {h.memory.id for h in self.read_policy.apply(found, m.content, False, self.clock(), None)}
            found = [h for h in found if h.memory.id in shown]
        return (found[0].memory, round(found[0].score, 4)) if found else None

    def remember_many(
        self, items: Sequence[NewMemory], progress: Callable[[int], None] | None = None, *,
        caller: Caller = OPERATOR,
    ) -> list[RememberResult]:
        """Store many memories, all or nothing on validation (MemoryWriter.remember_many)."""
        return self.writer.remember_many(items, progress, caller=caller)

    def forget(self, mem_id: str, *, caller: Caller = OPERATOR) -> Memory:
        return self.forget_many([mem_id], caller=caller)[0]

    def forget_many(self, ids: Iterable[str], *, caller: Caller = OPERATOR) -> list[Memory]:
        """Delete memories for good. An agent: 'forget' for memories it wrote, 'erase' for
        any it can read, and at most `caller.max_destructive` per call. The use case both
        adapters call is services/forget.py (model guard, trust attribution, then this)."""
        return self.writer.delete(ids, caller=caller)

    def scrub_after_delete(self) -> bool:
        """After a delete committed: truncate the WAL and drop cached pages (MemoryWriter)."""
        return self.writer.scrub_after_delete()

    # ---- reads -----------------------------------------------------------------------------
    def get(self, mem_id: str, *, caller: Caller = OPERATOR) -> Memory:
        """One memory; a memory the caller may not read looks exactly like an unknown id."""
        caller.require("read", "read memories")
        with self.lock:
            m = mstore.get_by_id(self.conn, mem_id)
        if m is None:
            raise NotFoundError(f"no memory with id {mem_id!r}")
        return caller.check_memory(m)

    def list(
        self, filters: SearchFilters = SearchFilters(), limit: int = 20, offset: int = 0, *,
        caller: Caller = OPERATOR,
    ) -> list[Memory]:
        caller.require("read", "list memories")
        filters = caller.filters(filters)
        if limit <= 0 or offset < 0:
            raise ValidationError("limit must be positive and offset non-negative")
        with self.lock:
            return mstore.list_memories(self.conn, filters, limit, offset)

    def iter_all(self, filters: SearchFilters | None = None):
        with self.lock:
            return list(mstore.iter_all(self.conn, filters))

    def embed_query(self, query: str) -> np.ndarray:
        return self.reader.embed_query(query)

    def search(
        self, query: str, filters: SearchFilters = SearchFilters(), opts: SearchOptions = SearchOptions(), *,
        caller: Caller = OPERATOR,
    ) -> list[SearchHit]:
        """Hybrid recall. The caller's exclusions join the filters; every hit is checked
        against the stored row's namespace before it is returned (hydrate)."""
        return self.reader.search(query, filters, opts, caller=caller, read_policy=self.read_policy,
                                  expander=self.expander)

    def candidates(
        self, query: str, qvec: np.ndarray | None, filters: SearchFilters, depth: int,
        legs: Sequence[str] = ("bm25", "vector"), *, bm25_backend: str = "ram",
    ) -> dict[str, list[tuple[int, float]]]:
        """Ranked (rowid, raw score) per leg, filters applied (MemoryReader.candidates)."""
        return self.reader.candidates(query, qvec, filters, depth, legs, bm25_backend=bm25_backend)

    def hydrate(
        self, fused, ranked: dict[str, list[tuple[int, float]]], filters: SearchFilters | None = None
    ) -> list[SearchHit]:
        """Read the ranked rows from the database, namespaces checked again (MemoryReader.hydrate)."""
        return self.reader.hydrate(fused, ranked, filters)
