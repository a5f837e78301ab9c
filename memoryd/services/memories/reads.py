"""The read path: hybrid recall (BM25 and vector legs, the session-context leg, fusion,
graph expansion, the trust read policy) and the hydration of ranked rows.

A collaborator held by :class:`memoryd.services.memories.MemoryService` as `reader`. Its
state: the connection and lock, the embedder (queries), the RAM indexes and the clock. The
read policy and the expander are the service's seams, passed in per call (derived stores
install themselves on the service)."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence

import numpy as np

from ...db.driver import sqlite3
from ...embedding import Embedder
from ...errors import ValidationError
from ...models import SearchFilters, SearchHit
from ...search.fusion import fuse
from ...search.query_dates import query_window
from ...store import memories as mstore
from ..authority import Caller
from ..session_context import CONTEXT_WEIGHTS
from ...validation import MAX_QUERY_CHARS
from .indexes import MemoryIndexes
from .options import SearchOptions
from .seams import Expander, ReadPolicy

__all__ = ["MemoryReader", "namespace_allowed"]

log = logging.getLogger("memoryd.services.memories")
DATE_LEG = "date"  # the leg of memories stored in the window a query names (_dated_leg)


def namespace_allowed(filters: SearchFilters, namespace: str) -> bool:
    if filters.namespaces is not None and namespace not in filters.namespaces:
        return False
    return namespace not in filters.exclude_namespaces


class MemoryReader:
    def __init__(self, conn: sqlite3.Connection, embedder: Embedder, indexes: MemoryIndexes, *,
                 lock: threading.RLock, clock: Callable[[], float]):
        self.conn = conn
        self.embedder = embedder
        self.indexes = indexes
        self.lock = lock
        self.clock = clock

    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder.encode([query[:MAX_QUERY_CHARS]])[0]

    def search(
        self, query: str, filters: SearchFilters, opts: SearchOptions, *, caller: Caller,
        read_policy: ReadPolicy | None, expander: Expander | None,
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
        dated = self._dated_leg(query, qvec, filters, depth, opts)
        if dated:
            ranked[DATE_LEG] = dated
        fused = fuse(opts.fusion, ranked, CONTEXT_WEIGHTS if "context" in ranked else None)
        if opts.expand and expander is not None:
            fused = expander.expand(fused, ranked, filters, depth)
        policy = read_policy if opts.trust else None
        if policy is None:
            return self.hydrate(fused[:depth], ranked, filters)[: opts.limit]
        hits = self.hydrate(fused[:depth], ranked, filters)  # the policy re-ranks all candidates, then cut
        return policy.apply(hits, query, opts.include_quarantined, self.clock(), opts.limit)[: opts.limit]

    def _dated_leg(self, query: str, qvec: np.ndarray | None, filters: SearchFilters, depth: int,
                   opts: SearchOptions) -> list[tuple[int, float]]:
        """A query naming a day or a month ("on May 3, 2023", "in March 2023") or a time relative
        to now ("yesterday", "last week") also ranks the memories stored in that window
        (search/query_dates.py), fused as one more leg; none when the caller set since/until
        itself."""
        if filters.since is not None or filters.until is not None:
            return []
        window = query_window(query, self.clock())  # relative phrases ("yesterday") anchor on the clock
        if window is None:
            return []
        inside = dataclasses.replace(filters, since=window[0], until=window[1])
        sub = self.candidates(query, qvec, inside, depth, opts.legs, bm25_backend=opts.bm25_backend)
        return [(h.rowid, h.score) for h in fuse(opts.fusion, sub, CONTEXT_WEIGHTS if "context" in sub else None)]

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
            index, text_index = self.indexes.current()
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
                context = self.indexes.context
                ctx_index = context.index if context is not None else None
                if ctx_index is not None and len(ctx_index):  # stores of plain notes have none
                    ctx = context.leg(qvec, depth, mask_for(ctx_index), out["vector"])
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
            if DATE_LEG in h.ranks:
                why.append(f"stored around the date asked about (#{h.ranks[DATE_LEG]})")
            for leg in h.ranks:
                if leg not in ("bm25", "vector", "context", DATE_LEG):
                    why.append(f"{leg} #{h.ranks[leg]}")
            hits.append(SearchHit(m, h.score, dict(h.ranks), " + ".join(why)))
        return hits
