"""The write path: store memories (validate, embed in batches, insert in chunks, keep the
RAM indexes in step) and delete them for good (authority, the deletion log, the WAL
scrubbed after the commit).

A collaborator held by :class:`memoryd.services.memories.MemoryService` as `writer`. Its
state is what it is given: the connection and lock, the embedder, the RAM indexes, the
limits (bytes per memory, embedding batch), the clock and the service's listener list
(shared: derived stores add themselves there)."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from ulid import ULID

from ...db import checkpoint_truncate, shrink_memory, transaction
from ...db.driver import sqlite3
from ...embedding import Embedder
from ...errors import AuthError, NotFoundError, ValidationError
from ...models import Memory, NewMemory, RememberResult
from ...store import memories as mstore
from ...store import vectors as vstore
from ..authority import OPERATOR, Caller
from ..session_context import SessionContext
from ...validation import validate_new
from .indexes import MemoryIndexes
from .seams import MemoryListener

__all__ = ["MemoryWriter", "content_hash", "INSERT_CHUNK", "DELETION_LOG_KEEP", "FUTURE_SKEW_S"]

log = logging.getLogger("memoryd.services.memories")

INSERT_CHUNK = 256  # memories per write transaction on bulk import
DELETION_LOG_KEEP = 100_000  # deletion-log entries kept for processes catching up; older ones reload
FUTURE_SKEW_S = 300.0  # clocks differ; a memory dated later than this is refused


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


class MemoryWriter:
    def __init__(self, conn: sqlite3.Connection, embedder: Embedder, indexes: MemoryIndexes, *,
                 lock: threading.RLock, max_bytes: int, batch_size: int, clock: Callable[[], float],
                 listeners: list[MemoryListener]):
        self.conn = conn
        self.embedder = embedder
        self.indexes = indexes
        self.lock = lock
        self.max_bytes = max_bytes
        self.batch_size = batch_size
        self.clock = clock
        self.listeners = listeners  # the service's list (shared)

    def remember_many(
        self, items: Sequence[NewMemory], progress: Callable[[int], None] | None = None, *,
        caller: Caller = OPERATOR,
    ) -> list[RememberResult]:
        """Validate all first (nothing is written if any item is invalid), embed in batches,
        then insert in chunks of INSERT_CHUNK per transaction. An agent needs 'write' and
        may not write into another agent's private namespace nor another project's (Caller.check_write)."""
        caller.require("write", "store memories")
        clean = [validate_new(n, self.max_bytes) for n in items]
        for n in clean:
            caller.check_write(n.namespace)
        late = self.clock() + FUTURE_SKEW_S
        if any(n.created_at is not None and n.created_at > late for n in clean):
            raise ValidationError("created_at is in the future: give when it happened, at most 5 minutes ahead of now")
        results: list[RememberResult | None] = [None] * len(clean)
        for start in range(0, len(clean), INSERT_CHUNK):
            chunk = clean[start : start + INSERT_CHUNK]
            hashes = [content_hash(n.content) for n in chunk]
            # duplicates already stored, or repeated inside this chunk, are not embedded
            with self.lock:
                existing = {
                    i: mstore.find_by_hash(self.conn, n.namespace, h)
                    for i, (n, h) in enumerate(zip(chunk, hashes))
                }
            first_seen: dict[tuple[str, str], int] = {}
            todo: list[int] = []
            for i, (n, h) in enumerate(zip(chunk, hashes)):
                if existing[i] is None and (n.namespace, h) not in first_seen:
                    first_seen[(n.namespace, h)] = i
                    todo.append(i)
            with self.lock:
                plans = SessionContext.plan(self.conn, chunk, todo, self.clock())
            vecs = self.embedder.encode(
                [chunk[i].content for i in todo] + [p.text for p in plans], batch_size=self.batch_size
            ) if todo else np.zeros((0, 0), dtype=np.float32)
            vecs, ctx_vecs = vecs[: len(todo)], vecs[len(todo):]
            with self.lock:
                self.indexes.current()
                inserted: list[Memory] = []
                with transaction(self.conn):
                    # holding the write lock: catch up with every other commit, so the
                    # data_version we record stays true after our own commit (ours do not
                    # change it) and no write of another process is skipped
                    self.indexes.sync()
                    now = self.clock()
                    rowids: list[int] = []
                    row_at: dict[int, int] = {}  # position in chunk -> rowid, stored or found
                    for j, i in enumerate(todo):
                        n = chunk[i]
                        again = mstore.find_by_hash(self.conn, n.namespace, hashes[i])
                        if again is not None:  # written by another process meanwhile
                            existing[i] = again
                            continue
                        rowid = mstore.insert_memory(self.conn, str(ULID()), n, hashes[i], now)
                        rowids.append(rowid)
                        row_at[i] = rowid
                    kept = [j for j, i in enumerate(todo) if existing[i] is None]
                    vecs_kept = vecs[kept] if len(kept) else vecs[:0]
                    if rowids:
                        vstore.insert_vectors(self.conn, rowids, vecs_kept, self.embedder.name)
                        mems = mstore.get_by_rowids(self.conn, rowids)
                        inserted = [mems[r] for r in rowids]
                        for listener in self.listeners:
                            listener.after_insert(self.conn, inserted, vecs_kept)

                    def rowid_of(i: int) -> int | None:
                        if i in row_at:
                            return row_at[i]
                        m = existing.get(i)
                        if m is not None:
                            return m.rowid
                        first = first_seen.get((chunk[i].namespace, hashes[i]))  # repeated in this batch
                        return row_at.get(first) if first is not None else None

                    ctx_pairs, ctx_kept, ctx_ns = SessionContext.store(
                        self.conn, plans, ctx_vecs, rowid_of, self.embedder.name, chunk)
                if progress is not None:  # at once: it counts what is committed (an import told
                    progress(len(chunk))  # of a Ctrl-C says how far it got)
                if inserted:  # indexes.vectors: the sync above may have reloaded the indexes
                    self.indexes.vectors.add(rowids, vecs_kept, [m.namespace for m in inserted])
                    self.indexes.bm25.add(rowids, [m.content for m in inserted], [m.namespace for m in inserted])
                self.indexes.context.add(ctx_pairs, ctx_kept, ctx_ns)
            by_pos = {i: m for i, m in zip([i for i in todo if existing[i] is None], inserted)}
            for i, n in enumerate(chunk):
                if i in by_pos:
                    results[start + i] = RememberResult(by_pos[i], duplicate=False)
                else:
                    mem = existing[i]
                    if mem is None:  # repeated inside this chunk: its first copy was stored
                        mem = by_pos[first_seen[(n.namespace, hashes[i])]]
                    results[start + i] = RememberResult(mem, duplicate=True)
        return [r for r in results if r is not None]

    def delete(self, ids: Iterable[str], *, caller: Caller = OPERATOR) -> list[Memory]:
        """Delete memories for good. An agent: 'forget' for memories it wrote, 'erase' for
        any it can read, and at most `caller.max_destructive` per call."""
        ids = list(ids)
        caller.require("forget", "forget memories")
        caller.check_size(len(ids), "forget")
        with self.lock:
            mems = []
            for i in ids:
                m = mstore.get_by_id(self.conn, i)
                if m is None:
                    raise NotFoundError(f"no memory with id {i!r}")
                caller.check_memory(m)
                if not caller.may_delete(m):
                    raise AuthError(f"memory {i!r} was written by {m.provenance.agent_id!r}: an agent forgets only "
                                    "its own memories unless it holds the 'erase' scope")
                mems.append(m)
            self.indexes.current()
            with transaction(self.conn):
                self.indexes.sync()  # as in remember_many
                for listener in self.listeners:
                    listener.before_delete(self.conn, mems)
                mstore.delete_by_rowids(self.conn, [m.rowid for m in mems])
                mstore.prune_deletions(self.conn, DELETION_LOG_KEEP)
                self.indexes.deletion_seq = mstore.last_deletion(self.conn)  # our own, removed below
            self.indexes.drop_rows([m.rowid for m in mems])
            self.scrub_after_delete()
        return mems

    def scrub_after_delete(self) -> bool:
        """After a delete committed: truncate the WAL (it holds old page images with the
        deleted text) and drop cached pages. The store's delete path already cleaned the
        FTS index and zeroed the freed cells. False when a reader kept the WAL busy; the
        next delete or erasure truncates it (docs/erasure.md, "Every delete path")."""
        with self.lock:
            ok = checkpoint_truncate(self.conn)
            shrink_memory(self.conn)
        if not ok:
            log.warning("could not truncate the WAL after a delete: a reader holds a transaction")
        return ok
