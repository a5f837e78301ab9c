"""Remember, recall, list, forget: the core memory service."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
from ulid import ULID

from ..db.driver import sqlite3
from ..db import checkpoint_truncate, data_version, shrink_memory, transaction
from ..embedding import Embedder
from ..errors import AuthError, NotFoundError, ValidationError
from ..models import Memory, NewMemory, RememberResult, SearchFilters, SearchHit
from ..search.bm25 import BM25Index
from ..search.fusion import FusedHit, fuse
from ..search.vector_index import VectorIndex
from ..store import memories as mstore
from ..store import vectors as vstore
from .authority import OPERATOR, Caller
from .session_context import CONTEXT_WEIGHTS, SessionContext
from ..validation import MAX_QUERY_CHARS, validate_new

__all__ = ["Expander", "MemoryService", "MemoryListener", "ReadPolicy", "SearchOptions", "content_hash"]

log = logging.getLogger(__name__)

INSERT_CHUNK = 256  # memories per write transaction on bulk import
DELETION_LOG_KEEP = 100_000  # deletion-log entries kept for processes catching up; older ones reload


def namespace_allowed(filters: SearchFilters, namespace: str) -> bool:
    if filters.namespaces is not None and namespace not in filters.namespaces:
        return False
    return namespace not in filters.exclude_namespaces
SIMILAR_COSINE = 0.9  # remember() names an existing memory this close as a candidate to supersede


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


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


FUTURE_SKEW_S = 300.0  # clocks differ; a memory dated later than this is refused


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
        self.conn = conn
        self.embedder = embedder
        self.max_bytes = max_bytes
        self.lock = lock
        self.batch_size = batch_size
        self.clock = clock
        self.listeners: list[MemoryListener] = []
        self.read_policy: ReadPolicy | None = None  # None: plain relevance ranking
        self.expander: Expander | None = None  # the knowledge graph installs itself here
        self._index: VectorIndex | None = None
        self._bm25: BM25Index | None = None
        self._context: SessionContext | None = None  # context vectors of session memories
        self._data_version: int | None = None
        self._deletion_seq = 0  # newest memory_deletions entry applied to the indexes
        self._vectors_rewritten = 0  # memory_rowid_seq.vectors_rewritten when last compared

    # ---- in-RAM indexes (vectors + BM25), kept in step with the database ------------------
    @property
    def index(self) -> VectorIndex:
        return self._indexes()[0]

    @property
    def text_index(self) -> BM25Index:
        return self._indexes()[1]

    def _indexes(self) -> tuple[VectorIndex, BM25Index]:
        with self.lock:
            if self._index is None or self._bm25 is None or self._context is None:
                self._load_indexes()
            else:
                self._sync_indexes()
            assert self._index is not None and self._bm25 is not None
            return self._index, self._bm25

    @property
    def context(self) -> SessionContext:
        with self.lock:
            self._indexes()
            assert self._context is not None
            return self._context

    def embedder_ready(self) -> None:
        wait = getattr(self.embedder, "wait_ready", None)
        if wait:
            wait()

    def _dv(self) -> int:
        return data_version(self.conn)

    def _load_indexes(self) -> None:
        self.embedder_ready()
        # read the change markers first: a write landing during the load is seen again at
        # the next sync (harmless), never missed
        self._data_version, self._deletion_seq = self._dv(), mstore.last_deletion(self.conn)
        self._vectors_rewritten = mstore.vectors_rewritten(self.conn)
        self._index, self._bm25 = VectorIndex(self.embedder.dim), BM25Index()
        self._context = SessionContext(self.embedder.dim)
        self._add_rows(vstore.load_index_rows(self.conn, self.embedder.name))
        self._context.load(self.conn, self.embedder.name)

    def _add_rows(self, rows) -> None:
        rowids, namespaces, contents, mat = rows
        if rowids:
            self._index.add(rowids, mat, namespaces)
            self._bm25.add(rowids, contents, namespaces)

    def _sync_indexes(self) -> None:
        """Pick up writes made through other connections (another CLI, the server) before
        answering. Rowids are never reused (migration 0008): rows deleted elsewhere come from
        the deletion log and leave both indexes, new rows are those above our highest."""
        dv = self._dv()
        if dv == self._data_version:
            return
        idx = self._index
        seq, gone, complete = mstore.deletions_after(self.conn, self._deletion_seq)
        if not complete:  # we fell behind the pruned log: rebuild rather than guess
            log.info("deletion log pruned past this process's view: reloading the indexes")
            self._load_indexes()
            return
        if gone:
            self._drop_rows(gone)
        self._deletion_seq = seq
        self._add_rows(vstore.load_index_rows(self.conn, self.embedder.name, idx.max_rowid))
        rewritten = mstore.vectors_rewritten(self.conn)
        if rewritten != self._vectors_rewritten:  # vectors written for older rows (reindex, bulk chunks)
            self._vectors_rewritten = rewritten
            present = set(vstore.all_rowids(self.conn, self.embedder.name).tolist())
            stale = [r for r in idx.rowids().tolist() if r not in present]
            idx.remove(stale)
            self._bm25.remove(stale)
            missing = sorted(present - set(idx.rowids().tolist()))
            if missing:  # vectors written below our max rowid
                self._add_rows(vstore.load_index_rows(self.conn, self.embedder.name, rowids=missing))
        self._context.catch_up(self.conn, self.embedder.name)
        self._data_version = dv

    def reset_index(self) -> None:
        with self.lock:
            self._index = self._bm25 = self._context = None

    def evict(self, rowids: Sequence[int]) -> None:
        """Drop deleted rows from the in-RAM indexes now, if they are loaded (erasure):
        their vectors are zeroed, words no other memory uses leave the BM25 vocabulary."""
        with self.lock:
            self._drop_rows(rowids)

    def _drop_rows(self, rowids: Sequence[int]) -> None:
        """Deleted rows leave every loaded RAM index; the context index also drops the
        vectors that were computed from their text."""
        if self._index is not None:
            self._index.remove(rowids)
        if self._bm25 is not None:
            self._bm25.remove(rowids)
        if self._context is not None:
            self._context.drop(rowids)

    # ---- writes ----------------------------------------------------------------------------
    def remember(self, new: NewMemory, *, caller: Caller = OPERATOR, supersedes: str | None = None) -> RememberResult:
        """Store one memory. ``supersedes``: id of a memory this one replaces; the old one stays
        stored but leaves search. An agent may supersede only memories it wrote; the operator
        (provenance.by_operator) any. Without it, a nearly identical memory of the namespace is
        returned as ``similar`` so that the caller can supersede it instead of piling up copies."""
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
        sim = self._similar(res.memory)
        return replace(res, similar=sim[0], similarity=sim[1]) if sim else res

    def _supersedable(self, old_id: str, new: NewMemory, caller: Caller) -> Memory:
        old = self.get(old_id, caller=caller)
        mine = old.provenance.agent_id == (new.provenance.agent_id if caller.operator else caller.agent_id)
        if not mine and not (caller.operator and new.provenance.by_operator):
            raise AuthError(f"memory {old_id} was written by another agent: an agent may supersede only its own memories")
        with self.lock:
            if mstore.superseded_among(self.conn, [old.rowid]):
                raise ValidationError(f"memory {old_id} was already superseded by {mstore.superseded_by(self.conn, old.rowid)}")
        return old

    def _similar(self, m: Memory) -> tuple[Memory, float] | None:
        """The closest other memory of m's namespace, when at least SIMILAR_COSINE alike."""
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
            other = mstore.get_by_rowids(self.conn, [hits[0].rowid]).get(hits[0].rowid)
        return (other, round(float(hits[0].score), 4)) if other is not None else None

    def remember_many(
        self, items: Sequence[NewMemory], progress: Callable[[int], None] | None = None, *,
        caller: Caller = OPERATOR,
    ) -> list[RememberResult]:
        """Validate all first (nothing is written if any item is invalid), embed in batches,
        then insert in chunks of INSERT_CHUNK per transaction. An agent needs 'write' and
        may not write into another agent's private namespace."""
        caller.require("write", "store memories")
        clean = [validate_new(n, self.max_bytes) for n in items]
        for n in clean:
            caller.check_namespace(n.namespace)
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
                self._indexes()
                inserted: list[Memory] = []
                with transaction(self.conn):
                    # holding the write lock: catch up with every other commit, so the
                    # data_version we record stays true after our own commit (ours do not
                    # change it) and no write of another process is skipped
                    self._sync_indexes()
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
                if inserted:  # self._index: the sync above may have reloaded the indexes
                    self._index.add(rowids, vecs_kept, [m.namespace for m in inserted])
                    self._bm25.add(rowids, [m.content for m in inserted], [m.namespace for m in inserted])
                self._context.add(ctx_pairs, ctx_kept, ctx_ns)
            by_pos = {i: m for i, m in zip([i for i in todo if existing[i] is None], inserted)}
            for i, n in enumerate(chunk):
                if i in by_pos:
                    results[start + i] = RememberResult(by_pos[i], duplicate=False)
                else:
                    mem = existing[i]
                    if mem is None:  # repeated inside this chunk: its first copy was stored
                        mem = by_pos[first_seen[(n.namespace, hashes[i])]]
                    results[start + i] = RememberResult(mem, duplicate=True)
            if progress is not None:
                progress(len(chunk))
        return [r for r in results if r is not None]

    def forget(self, mem_id: str, *, caller: Caller = OPERATOR) -> Memory:
        return self.forget_many([mem_id], caller=caller)[0]

    def forget_many(self, ids: Iterable[str], *, caller: Caller = OPERATOR) -> list[Memory]:
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
            self._indexes()
            with transaction(self.conn):
                self._sync_indexes()  # as in remember_many
                for listener in self.listeners:
                    listener.before_delete(self.conn, mems)
                mstore.delete_by_rowids(self.conn, [m.rowid for m in mems])
                mstore.prune_deletions(self.conn, DELETION_LOG_KEEP)
                self._deletion_seq = mstore.last_deletion(self.conn)  # our own, removed below
            self._drop_rows([m.rowid for m in mems])
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
        return self.embedder.encode([query[:MAX_QUERY_CHARS]])[0]

    def search(
        self, query: str, filters: SearchFilters = SearchFilters(), opts: SearchOptions = SearchOptions(), *,
        caller: Caller = OPERATOR,
    ) -> list[SearchHit]:
        """Hybrid recall. The caller's exclusions join the filters; every hit is checked
        against the stored row's namespace before it is returned (hydrate)."""
        caller.require("read", "recall memories")
        filters = caller.filters(filters)
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("query is empty")
        if not (1 <= opts.limit <= 1000):
            raise ValidationError("limit must be between 1 and 1000")
        bad = set(opts.legs) - {"bm25", "vector"}
        if bad or not opts.legs:
            raise ValidationError(f"unknown search legs {sorted(bad)}; use bm25 and/or vector")
        query = query[:MAX_QUERY_CHARS]
        depth = max(opts.depth, opts.limit)
        qvec = None
        if "vector" in opts.legs:
            qvec = opts.query_vector if opts.query_vector is not None else self.embed_query(query)
        ranked = self.candidates(query, qvec, filters, depth, opts.legs, bm25_backend=opts.bm25_backend)
        if opts.fusion not in ("relative", "rrf"):
            raise ValidationError(f"unknown fusion {opts.fusion!r}; use relative or rrf")
        fused = fuse(opts.fusion, ranked, CONTEXT_WEIGHTS if "context" in ranked else None)
        if opts.expand and self.expander is not None:
            fused = self.expander.expand(fused, ranked, filters, depth)
        policy = self.read_policy if opts.trust else None
        if policy is None:
            return self.hydrate(fused[:depth], ranked, filters)[: opts.limit]
        hits = self.hydrate(fused[:depth], ranked, filters)  # the policy re-ranks all candidates, then cut
        return policy.apply(hits, query, opts.include_quarantined, self.clock(), opts.limit)[: opts.limit]

    def candidates(
        self,
        query: str,
        qvec: np.ndarray | None,
        filters: SearchFilters,
        depth: int,
        legs: Sequence[str] = ("bm25", "vector"),
        *,
        bm25_backend: str = "ram",
    ) -> dict[str, list[tuple[int, float]]]:
        """Ranked (rowid, raw score) per leg, filters applied. Namespace filters are masks
        over the RAM indexes; the other filters resolve to a rowid set through SQL."""
        out: dict[str, list[tuple[int, float]]] = {}
        with self.lock:
            index, text_index = self._indexes()
            rest = SearchFilters(
                tags=filters.tags, agent_id=filters.agent_id, kind=filters.kind,
                since=filters.since, until=filters.until,
            )
            allowed = None if rest.is_empty() else mstore.filter_rowids(self.conn, rest)

            def mask_for(ix):
                mask = ix.namespace_mask(filters.namespaces, filters.exclude_namespaces)
                if allowed is not None:
                    m2 = ix.rowid_mask(allowed)
                    mask = m2 if mask is None else (mask & m2)
                return mask

            if "bm25" in legs:
                if bm25_backend == "fts5":
                    out["bm25"] = [(r, -s) for r, s in mstore.fts_search(self.conn, query, depth, filters)]
                else:
                    out["bm25"] = text_index.search(query, depth, mask_for(text_index))
            if "vector" in legs and qvec is not None:
                out["vector"] = [(h.rowid, h.score) for h in index.search(qvec, depth, mask_for(index))]
                ctx_index = self._context.index if self._context is not None else None
                if ctx_index is not None and len(ctx_index):  # stores of plain notes have none
                    ctx = self._context.leg(qvec, depth, mask_for(ctx_index), out["vector"])
                    if ctx is not None:
                        out["context"] = ctx
        return out

    def hydrate(
        self, fused, ranked: dict[str, list[tuple[int, float]]], filters: SearchFilters | None = None
    ) -> list[SearchHit]:
        """Read the ranked rows from the database. With `filters`, every hit's namespace is
        checked again against the row as stored now: a stale index may cost recall, never
        privacy (defence in depth behind the deletion log and never-reused rowids)."""
        raw = {leg: dict(hits) for leg, hits in ranked.items()}
        with self.lock:
            mems = mstore.get_by_rowids(self.conn, [h.rowid for h in fused])
            superseded = mstore.superseded_among(self.conn, list(mems))
        hits: list[SearchHit] = []
        for h in fused:
            m = mems.get(h.rowid)
            if m is None or h.rowid in superseded:  # deleted meanwhile, or replaced by a newer version
                continue
            if filters is not None and not namespace_allowed(filters, m.namespace):
                log.warning("index entry %d answered for namespace %r outside the filters: dropped", h.rowid,
                            m.namespace)
                continue
            why = []
            if "bm25" in h.ranks:
                why.append(f"keywords (bm25 #{h.ranks['bm25']})")
            if "vector" in h.ranks:
                why.append(f"meaning (cosine {raw['vector'][h.rowid]:.2f}, #{h.ranks['vector']})")
            if "context" in h.ranks:
                why.append(f"meaning with the turn before (#{h.ranks['context']})")
            for leg in h.ranks:
                if leg not in ("bm25", "vector", "context"):
                    why.append(f"{leg} #{h.ranks[leg]}")
            hits.append(SearchHit(m, h.score, dict(h.ranks), " + ".join(why)))
        return hits
