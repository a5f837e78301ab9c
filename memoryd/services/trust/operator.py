"""The operator's word: vouch for or flag an agent, release a memory from quarantine, purge
every quarantined memory (through the erasure service when given one)."""

from __future__ import annotations

from typing import Any

from ...db import transaction
from ...trust import EvidenceKind, TrustScore, make_evidence
from .context import TrustContext
from .reads import TrustReads
from .records import Purge
from .snapshot import RELEASE, MemoryTrust

__all__ = ["OperatorActions"]


class OperatorActions:
    def __init__(self, ctx: TrustContext, reads: TrustReads):
        self.ctx = ctx
        self.reads = reads

    def _record(self, kind: EvidenceKind, subject_type: str, subject_id: str, details: dict | None = None) -> None:
        ctx = self.ctx
        with transaction(ctx.conn):
            ctx.ledger.append([make_evidence(kind, subject_type, subject_id, created_at=ctx.clock(), details=details)])
        ctx.ledger.sync()

    def vouch(self, agent_id: str) -> TrustScore:
        with self.ctx.lock:
            self._record(EvidenceKind.OPERATOR_VOUCH, "agent", self.reads.known(agent_id))
            return self.reads.agent_trust(agent_id)

    def flag(self, agent_id: str) -> TrustScore:
        with self.ctx.lock:
            self._record(EvidenceKind.OPERATOR_FLAG, "agent", self.reads.known(agent_id))
            return self.reads.agent_trust(agent_id)

    def release(self, memory_id: str) -> MemoryTrust:
        ctx = self.ctx
        with ctx.lock:
            m = ctx.memories.get(memory_id)
            self._record(EvidenceKind.OPERATOR_VOUCH, "memory", ctx.ledger.mref(m.id), {"action": RELEASE})
            return self.reads.memory_trust(memory_id)

    def purge(self, *, erasure: Any | None = None) -> Purge:
        ctx = self.ctx
        with ctx.lock:
            items = self.reads.quarantined()
        if not items:
            return Purge([], None)
        ids = tuple(q.memory.id for q in items)
        if erasure is None:
            with ctx.lock:
                return Purge(ctx.memories.forget_many(ids), None)
        from ...erasure.models import ErasureRequest  # noqa: PLC0415 - only the purge needs it

        receipt = erasure.execute(ErasureRequest(memory_ids=ids), confirm=True)
        return Purge([q.memory for q in items], receipt)
