"""Provenance trust in the running system: evidence on every write, feedback and deletion;
trust-aware recall (ranking, quarantine); operator vouch/flag/release/purge.

:class:`TrustService` is a facade over small collaborators sharing one explicit
:class:`~.context.TrustContext` (connection, lock, clock, parameters, the evidence
:class:`~.ledger.EvidenceLedger` and the :class:`~.scorer.TrustScorer`):

    listener   (MemoryService.listeners, inside the write transaction)
               after_insert   :class:`~.write_screen.WriteScreen` (detectors, near-duplicate
                              floods, conflict/corroboration with the nearest memories of
                              other authors) and the :class:`~.probation.Probation` sweep
               before_delete  :class:`~.deletions.Deletions`: pending feedback ingested;
                              deleted_soon_after_write when the author deletes its own fresh
                              memory (``forget(ids, by=agent)``)
               after_feedback FeedbackService.record (MCP feedback tool): the event becomes
                              evidence in the same transaction (:class:`~.feedback_ingest.FeedbackIngest`)
    read policy (MemoryService.read_policy): :class:`~.read_policy.RecallPolicy`
    reads      :class:`~.reads.TrustReads` (scores from a :class:`~.snapshot.Snapshot`),
               :func:`~.explain.explain`
    operator   :class:`~.operator.OperatorActions`: vouch, flag, release, purge

All time comes from the injected ``clock``. Pure scoring and detection live in
:mod:`memoryd.trust` (what a write records: :mod:`memoryd.trust.screen`); the collaborators
gather their inputs and own the transactions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ...db.driver import sqlite3
from ...models import Memory, SearchHit
from ...trust import DEFAULT_DETECT, DEFAULT_PARAMS, DetectParams, TrustParams, TrustScore
from ...trust.screen import DEFAULT_SCREEN, ScreenParams
from ..authority import OPERATOR as OPERATOR_CALLER
from ..authority import Caller
from ..feedback import FeedbackEvent, FeedbackService
from ..memories import MemoryService
from .context import OPERATOR, TrustContext
from .deletions import Deletions
from .explain import Explanation, explain
from .feedback_ingest import FeedbackIngest
from .ledger import EvidenceLedger, LogVerification
from .operator import OperatorActions
from .probation import Probation
from .read_policy import RecallPolicy
from .reads import TrustReads
from .records import AgentTrust, Purge, Quarantined
from .scorer import TrustScorer
from .write_screen import WriteScreen
from .snapshot import MemoryTrust

__all__ = ["TrustService", "AgentTrust", "Quarantined", "Purge", "MemoryTrust", "OPERATOR"]


class TrustService:
    def __init__(
        self,
        conn: sqlite3.Connection,
        memories: MemoryService,
        *,
        key: Callable[[], bytes],  # App.master_key
        lock: threading.RLock,
        clock: Callable[[], float] = time.time,
        params: TrustParams = DEFAULT_PARAMS,
        detect: DetectParams = DEFAULT_DETECT,
        screen: ScreenParams = DEFAULT_SCREEN,
        quantum_s: float = 600.0,  # scores are computed at now rounded up to this (see scorer.py)
        sweep_every_s: float = 300.0,  # probation sweep at most this often (run from writes)
        # an agent marking its own memory useful: recorded, never raises anything, but MCP clients
        # do it innocently after recalling their own note (it was the largest cost to honest
        # agents in the bench at 0.5: mean 0.923 -> 0.937 at 0.25)
        self_praise_strength: float = 0.25,
        # an agent < 1 day old praising a memory of its cohort: the Sybil-ring move (the praise
        # itself counts zero); a full self-corroboration attempt against the giver
        cohort_praise_strength: float = 1.0,
    ):
        ledger = EvidenceLedger(conn, key)
        self.ctx = ctx = TrustContext(conn, memories, lock, clock, params, detect, screen, ledger,
                                      TrustScorer(conn, ledger, params, quantum_s))
        self.ingest = FeedbackIngest(ctx, self_praise_strength=self_praise_strength,
                                     cohort_praise_strength=cohort_praise_strength)
        self.probation = Probation(ctx, sweep_every_s=sweep_every_s)
        self.writes = WriteScreen(ctx)
        self.deletions = Deletions(ctx, self.ingest.ingest)
        self.policy = RecallPolicy(ctx, self.ingest.refresh)
        self.reads = TrustReads(ctx, self.ingest.refresh)
        self.operator = OperatorActions(ctx, self.reads)
        self._feedback = FeedbackService(conn, memories, lock=lock, clock=clock)

    def install(self) -> TrustService:
        """Hook into the memory service: write listener and read policy."""
        if self not in self.memories.listeners:
            self.memories.listeners.append(self)
        self.memories.read_policy = self
        return self

    # ---- shared state, under the names callers know ---------------------------------------------
    conn = property(lambda self: self.ctx.conn)
    memories = property(lambda self: self.ctx.memories)
    lock = property(lambda self: self.ctx.lock)
    clock = property(lambda self: self.ctx.clock)
    params = property(lambda self: self.ctx.params)
    detect = property(lambda self: self.ctx.detect)
    screen = property(lambda self: self.ctx.screen)
    ledger = property(lambda self: self.ctx.ledger)
    scorer = property(lambda self: self.ctx.scorer)

    # ---- listener: called by MemoryService inside its write transaction ------------------------
    def after_feedback(self, conn: sqlite3.Connection, feedback_id: int) -> None:
        """Called by FeedbackService.record inside its transaction (the MCP tool's path)."""
        with self.lock:
            self.ingest.ingest()

    def after_insert(self, conn: sqlite3.Connection, memories: list[Memory], vectors: np.ndarray) -> None:
        with self.lock:
            now = self.clock()
            self.ledger.sync()
            self.ingest.ingest()  # feedback given since the last read counts in this sweep
            self.ledger.sync()
            evs = self.writes.screen(conn, memories, vectors, now)
            evs += self.probation.due(now)
            self.ledger.append(evs)

    def before_delete(self, conn: sqlite3.Connection, memories: list[Memory]) -> None:
        self.deletions.before_delete(conn, memories)

    # ---- read policy: called by MemoryService.search --------------------------------------------
    def apply(self, hits: list[SearchHit], query: str, include_quarantined: bool, now: float,
              limit: int | None = None) -> list[SearchHit]:
        """Re-rank fused hits by relevance x trust; leave quarantined memories out (or mark
        them). A hit that poses this very query as a question and answers it (PoisonedRAG)
        sinks in *this* request only: reads are never evidence against authors."""
        return self.policy.apply(hits, query, include_quarantined, now, limit)

    # ---- reads ----------------------------------------------------------------------------------
    def agent_trust(self, agent_id: str) -> TrustScore:
        return self.reads.agent_trust(agent_id)

    def memory_trust(self, memory_id: str) -> MemoryTrust:
        return self.reads.memory_trust(memory_id)

    def agents(self) -> list[AgentTrust]:
        """Every agent trust knows of (writers, feedback givers, registered agents)."""
        return self.reads.agents()

    def agent(self, agent_id: str) -> AgentTrust:
        return self.reads.agent(agent_id)

    def quarantined(self) -> list[Quarantined]:
        """Memories recall leaves out, lowest trust first."""
        return self.reads.quarantined()

    def explain(self, subject: str) -> Explanation:
        """The evidence that moved an agent or a memory, with its tier, in words."""
        return explain(self, subject)

    def verify(self) -> LogVerification:
        with self.lock:
            return self.ledger.verify()

    # ---- events ---------------------------------------------------------------------------------
    def feedback(self, memory_id: str, verdict: str, *, agent_id: str | None = None, note: str | None = None) -> FeedbackEvent:
        """Record useful / wrong / harmful about a memory; ``agent_id`` None: the operator.
        An agent praising its own memory is recorded as a self-corroboration attempt."""
        with self.lock:
            ev = self._feedback.record(memory_id, verdict, agent_id=agent_id or OPERATOR, note=note)
            self.ingest.refresh()
        return ev

    def forget(self, memory_ids: Iterable[str], *, by: str | None = None,
               caller: Caller = OPERATOR_CALLER) -> list[Memory]:
        """Delete memories on behalf of ``by`` (an agent; None: the operator), within what
        ``caller`` may delete. An author deleting its own memory within an hour of writing
        it is recorded (hit and run)."""
        return self.deletions.forget(memory_ids, by=by, caller=caller)

    def sweep(self) -> int:
        """Run the probation sweep now; returns how many writes were accepted."""
        return self.probation.sweep()

    # ---- operator -------------------------------------------------------------------------------
    def vouch(self, agent_id: str) -> TrustScore:
        return self.operator.vouch(agent_id)

    def flag(self, agent_id: str) -> TrustScore:
        return self.operator.flag(agent_id)

    def release(self, memory_id: str) -> MemoryTrust:
        """Let recall return this memory again (an operator vouch on the memory)."""
        return self.operator.release(memory_id)

    def purge(self, *, erasure: Any | None = None) -> Purge:
        """Delete every quarantined memory. With ``erasure`` (an ErasureService: App.erasure)
        they are erased like any GDPR request: derived stores (graph, model ledger) erase with
        them, the FTS index and free pages are cleaned, and a sealed receipt is written.
        Without it they go through ``MemoryService.forget_many`` (rows, FTS, vectors and every
        listener's derived rows). Their evidence stays in the log (it holds no content)."""
        return self.operator.purge(erasure=erasure)
