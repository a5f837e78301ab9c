"""Deletions as evidence: an author deleting its own memory soon after writing it (hit and
run) is recorded against it; operator deletions and erasure say nothing about the author."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ...db.driver import sqlite3
from ...models import Memory
from ...store import trust as tstore
from ...trust import deleted_soon, make_evidence
from ..authority import OPERATOR as OPERATOR_CALLER
from ..authority import Caller
from .context import TrustContext

__all__ = ["Deletions"]


class Deletions:
    def __init__(self, ctx: TrustContext, ingest_feedback: Callable[[], None]):
        self.ctx = ctx
        self.ingest_feedback = ingest_feedback  # pending feedback counts before its rows go
        self._by: str | None = None  # the agent deleting, while forget() runs

    def forget(self, memory_ids: Iterable[str], *, by: str | None = None,
               caller: Caller = OPERATOR_CALLER) -> list[Memory]:
        ctx = self.ctx
        with ctx.lock:
            self._by = by if by is not None or caller.operator else caller.agent_id
            try:
                return ctx.memories.forget_many(memory_ids, caller=caller)
            finally:
                self._by = None

    def before_delete(self, conn: sqlite3.Connection, memories: list[Memory]) -> None:
        ctx = self.ctx
        with ctx.lock:
            self.ingest_feedback()  # its rows go with the memories
            by = self._by
            mine = [m for m in memories if by is not None and m.provenance.agent_id == by]
            if not mine:
                return  # operator deletions and erasure say nothing about the author
            now = ctx.clock()
            written = tstore.written_at(conn, [m.rowid for m in mine])
            evs = []
            for m in mine:
                sig = deleted_soon(written.get(m.rowid, m.created_at), now, by_author=True, params=ctx.detect)
                if sig.score >= ctx.detect.min_record_score:
                    evs.append(make_evidence(sig.kind, "agent", by, created_at=now, strength=sig.score,
                                             details={"memory_id": ctx.ledger.mref(m.id), "score": round(sig.score, 4)}))
            ctx.ledger.append(evs)
