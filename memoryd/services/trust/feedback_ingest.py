"""Feedback events (from any process) become evidence: the operator's word, readers'
verdicts, and an agent praising its own memory or its cohort's (recorded against it)."""

from __future__ import annotations

from ...db import transaction
from ...models import Memory
from ...store import feedback as fstore
from ...store import memories as mstore
from ...store import trust as tstore
from ...trust import Evidence, EvidenceKind, independent, make_evidence, memory_and_agent
from ...trust.params import DAY
from .context import OPERATOR, TrustContext

__all__ = ["FeedbackIngest"]


class FeedbackIngest:
    def __init__(self, ctx: TrustContext, *, self_praise_strength: float, cohort_praise_strength: float):
        self.ctx = ctx
        self.self_praise_strength = self_praise_strength
        self.cohort_praise_strength = cohort_praise_strength
        self._praised: set[str] = set()  # mrefs self-praised in the current ingestion batch

    def refresh(self) -> None:
        """Mirror new evidence; turn new feedback events (from any process) into evidence."""
        ctx = self.ctx
        ctx.ledger.sync()
        top = tstore.max_feedback_id(ctx.conn)
        if top and top > int(tstore.state_get(ctx.conn, "feedback_cursor") or 0):
            with transaction(ctx.conn):
                self.ingest()
            ctx.ledger.sync()

    def ingest(self) -> None:
        """Inside a transaction: feedback events after the cursor -> evidence pairs."""
        conn, ledger = self.ctx.conn, self.ctx.ledger
        cursor = int(tstore.state_get(conn, "feedback_cursor") or 0)
        ledger.sync()  # earlier evidence (e.g. a self-praise recorded a moment ago) is seen
        self._praised.clear()
        while True:
            rows = fstore.list_feedback(conn, after_id=cursor, limit=2000)
            if not rows:
                return
            mems = mstore.get_by_rowids(conn, [r.memory_rowid for r in rows])
            first: dict[str, float] = {}
            for r in rows:
                if r.agent_id != OPERATOR:
                    first[r.agent_id] = min(first.get(r.agent_id, r.created_at), r.created_at)
            for g, t in sorted(first.items()):
                tstore.ensure_agents(conn, [g], t)
            evs: list[Evidence] = []
            for r in rows:
                m = mems.get(r.memory_rowid)
                if m is not None:
                    evs += self._evidence(r, m)
            ledger.append(evs)
            cursor = rows[-1].id
            tstore.state_set(conn, "feedback_cursor", str(cursor))

    def _evidence(self, r: fstore.FeedbackRow, m: Memory) -> list[Evidence]:
        ledger, scorer, params = self.ctx.ledger, self.ctx.scorer, self.ctx.params
        author, mref = m.provenance.agent_id, ledger.mref(m.id)
        details = {"feedback_id": r.id}
        if r.agent_id == OPERATOR:
            return list(memory_and_agent(f"feedback_{r.verdict}", memory_id=mref, author_id=author,
                                         created_at=r.created_at, details=details))
        if r.agent_id == author and r.verdict == "useful":  # praising oneself: never raises trust
            kind = EvidenceKind.SELF_CORROBORATION_ATTEMPT
            if any(e.kind is kind for e in ledger.by_memory.get(mref, ())) or mref in self._praised:
                return []  # once per memory: an agent re-using its own note is not a new attempt
            self._praised.add(mref)
            return list(memory_and_agent(kind, memory_id=mref, author_id=author, created_at=r.created_at,
                                         strength=self.self_praise_strength, details=details))
        out = list(memory_and_agent(f"feedback_{r.verdict}", memory_id=mref, author_id=author,
                                    created_at=r.created_at, source_agent_id=r.agent_id, details=details))
        if r.verdict == "useful" and r.agent_id != author:
            giver = scorer.facts(r.agent_id, r.created_at)
            young = r.created_at - giver.created_at < params.establish_age_days * DAY
            if young and not independent(giver, scorer.facts(author, r.created_at), params):
                # a fresh identity praising its own cohort (Sybil ring): scoring ignores the praise
                # anyway; half a self-corroboration against the giver makes the attempt visible
                out.append(make_evidence(EvidenceKind.SELF_CORROBORATION_ATTEMPT, "agent", r.agent_id,
                                         created_at=r.created_at, strength=self.cohort_praise_strength,
                                         details={**details, "memory_id": mref, "cohort": True}))
        return out
