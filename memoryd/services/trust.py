"""Provenance trust in the running system: evidence on every write, feedback and deletion;
trust-aware recall (ranking, quarantine); operator vouch/flag/release/purge.

    listener (MemoryService.listeners, inside the write transaction):
        after_insert   detectors, near-duplicate floods, conflict/corroboration with the
                       nearest memories of other authors, probation sweep
        before_delete  pending feedback ingested; deleted_soon_after_write when the author
                       deletes its own fresh memory (``forget(ids, by=agent)``)
        after_feedback FeedbackService.record (MCP feedback tool): the event becomes evidence
                       in the same transaction
    read policy (MemoryService.read_policy): ``apply(hits, query, include_quarantined, now)``
    events:     feedback(memory_id, verdict, agent_id=None | giver), forget(ids, by=agent), sweep()
    reads:      agent_trust(agent), memory_trust(memory_id), agents(), quarantined()
    operator:   vouch(agent), flag(agent), release(memory_id), purge(erasure=app.erasure), verify()

All time comes from the injected ``clock``. Pure scoring and detection live in
:mod:`memoryd.trust`; this module gathers their inputs and owns the transactions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..db.driver import sqlite3
from ..db import transaction
from ..errors import NotFoundError
from ..models import OPERATOR_TOOL, Memory, SearchHit
from ..store import agents as astore
from ..store import feedback as fstore
from ..store import memories as mstore
from ..store import trust as tstore
from ..trust import (
    DEFAULT_DETECT,
    DEFAULT_PARAMS,
    DetectParams,
    Evidence,
    EvidenceKind,
    MemoryFacts,
    TrustParams,
    TrustScore,
    deleted_soon,
    independent,
    make_evidence,
    memory_and_agent,
    probation_passed,
    rank_score,
)
from ..trust.params import DAY
from .authority import OPERATOR as OPERATOR_CALLER
from .authority import Caller
from .feedback import FeedbackEvent, FeedbackService
from .memories import MemoryService
from .trust_explain import Explanation, explain
from .trust_ledger import EvidenceLedger, LogVerification
from .trust_scores import RELEASE, MemoryTrust, Snapshot, TrustScorer
from .trust_screen import DEFAULT_SCREEN, Neighbour, ScreenParams, recall_stuffing, screen_write

__all__ = ["TrustService", "AgentTrust", "Quarantined", "Purge", "MemoryTrust", "OPERATOR"]

OPERATOR = "@operator"  # giver of feedback typed at the CLI; not a valid agent name


@dataclass(frozen=True)
class AgentTrust:
    agent_id: str
    created_at: float
    score: TrustScore
    memories: int
    quarantined: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent_id,
            "created_at": self.created_at,
            "trust": round(self.score.mean, 4),
            "lower_bound": round(self.score.lower_bound, 4),
            "alpha": round(self.score.alpha, 3),
            "beta": round(self.score.beta, 3),
            "evidence": self.score.n,
            "memories": self.memories,
            "quarantined": self.quarantined,
            "reasons": list(self.score.reasons),
        }


@dataclass(frozen=True)
class Purge:
    deleted: list[Memory]
    receipt: Any | None  # the ErasureReceipt when the purge went through the erasure service

    def to_dict(self) -> dict[str, Any]:
        return {
            "deleted": [m.id for m in self.deleted],
            "receipt": getattr(self.receipt, "id", None),
            "verified": None if self.receipt is None else bool(self.receipt.ok),
        }


@dataclass(frozen=True)
class Quarantined:
    memory: Memory
    trust: MemoryTrust

    def to_dict(self) -> dict[str, Any]:
        return {**self.memory.to_dict(), "trust": self.trust.to_dict()}


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
        quantum_s: float = 600.0,  # scores are computed at now rounded up to this (see trust_scores)
        sweep_every_s: float = 300.0,  # probation sweep at most this often (run from writes)
        # an agent marking its own memory useful: recorded, never raises anything, but MCP clients
        # do it innocently after recalling their own note (it was the largest cost to honest
        # agents in the bench at 0.5: mean 0.923 -> 0.937 at 0.25)
        self_praise_strength: float = 0.25,
        # an agent < 1 day old praising a memory of its cohort: the Sybil-ring move (the praise
        # itself counts zero); a full self-corroboration attempt against the giver
        cohort_praise_strength: float = 1.0,
    ):
        self.conn = conn
        self.memories = memories
        self.lock = lock
        self.clock = clock
        self.params = params
        self.detect = detect
        self.screen = screen
        self.sweep_every_s = sweep_every_s
        self.self_praise_strength = self_praise_strength
        self.cohort_praise_strength = cohort_praise_strength
        self._praised: set[str] = set()  # mrefs self-praised in the current ingestion batch
        self.ledger = EvidenceLedger(conn, key)
        self.scorer = TrustScorer(conn, self.ledger, params, quantum_s)
        self._feedback = FeedbackService(conn, memories, lock=lock, clock=clock)
        self._deleting_by: str | None = None

    def install(self) -> TrustService:
        """Hook into the memory service: write listener and read policy."""
        if self not in self.memories.listeners:
            self.memories.listeners.append(self)
        self.memories.read_policy = self
        return self

    # ---- keeping up with the log and the feedback table -------------------------------------
    def _refresh(self) -> None:
        """Mirror new evidence; turn new feedback events (from any process) into evidence."""
        self.ledger.sync()
        top = tstore.max_feedback_id(self.conn)
        if top and top > int(tstore.state_get(self.conn, "feedback_cursor") or 0):
            with transaction(self.conn):
                self._ingest_feedback()
            self.ledger.sync()

    def _ingest_feedback(self) -> None:
        """Inside a transaction: feedback events after the cursor -> evidence pairs."""
        conn = self.conn
        cursor = int(tstore.state_get(conn, "feedback_cursor") or 0)
        self.ledger.sync()  # earlier evidence (e.g. a self-praise recorded a moment ago) is seen
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
                    evs += self._feedback_evidence(r, m)
            self.ledger.append(evs)
            cursor = rows[-1].id
            tstore.state_set(conn, "feedback_cursor", str(cursor))

    def _feedback_evidence(self, r: fstore.FeedbackRow, m: Memory) -> list[Evidence]:
        author, mref = m.provenance.agent_id, self.ledger.mref(m.id)
        details = {"feedback_id": r.id}
        if r.agent_id == OPERATOR:
            return list(memory_and_agent(f"feedback_{r.verdict}", memory_id=mref, author_id=author,
                                         created_at=r.created_at, details=details))
        if r.agent_id == author and r.verdict == "useful":  # praising oneself: never raises trust
            kind = EvidenceKind.SELF_CORROBORATION_ATTEMPT
            if any(e.kind is kind for e in self.ledger.by_memory.get(mref, ())) or mref in self._praised:
                return []  # once per memory: an agent re-using its own note is not a new attempt
            self._praised.add(mref)
            return list(memory_and_agent(kind, memory_id=mref, author_id=author, created_at=r.created_at,
                                         strength=self.self_praise_strength, details=details))
        out = list(memory_and_agent(f"feedback_{r.verdict}", memory_id=mref, author_id=author,
                                    created_at=r.created_at, source_agent_id=r.agent_id, details=details))
        if r.verdict == "useful" and r.agent_id != author:
            giver = self.scorer.facts(r.agent_id, r.created_at)
            young = r.created_at - giver.created_at < self.params.establish_age_days * DAY
            if young and not independent(giver, self.scorer.facts(author, r.created_at), self.params):
                # a fresh identity praising its own cohort (Sybil ring): scoring ignores the praise
                # anyway; half a self-corroboration against the giver makes the attempt visible
                out.append(make_evidence(EvidenceKind.SELF_CORROBORATION_ATTEMPT, "agent", r.agent_id,
                                         created_at=r.created_at, strength=self.cohort_praise_strength,
                                         details={**details, "memory_id": mref, "cohort": True}))
        return out

    # ---- listener: called by MemoryService inside its write transaction ----------------------
    def after_feedback(self, conn: sqlite3.Connection, feedback_id: int) -> None:
        """Called by FeedbackService.record inside its transaction (the MCP tool's path)."""
        with self.lock:
            self._ingest_feedback()

    def after_insert(self, conn: sqlite3.Connection, memories: list[Memory], vectors: np.ndarray) -> None:
        with self.lock:
            now = self.clock()
            self.ledger.sync()
            self._ingest_feedback()  # feedback given since the last read counts in this sweep
            self.ledger.sync()
            tstore.ensure_agents(conn, sorted({m.provenance.agent_id for m in memories}), now)
            tstore.add_writes(conn, [(m.rowid, m.provenance.agent_id, now) for m in memories])
            bulk = len(memories) > 1  # an import (MCP writes one at a time): no write-pattern checks
            index = self.memories.index
            batch = {m.rowid: vectors[i] for i, m in enumerate(memories)}
            snap = self.scorer.snapshot(now)
            private = astore.namespace_owners(conn)
            evs: list[Evidence] = []
            candidates = self._candidates(memories, vectors, index, private)
            for i, m in enumerate(memories):
                if m.provenance.by_operator:
                    continue  # the operator is trusted: nothing it writes or imports is evidence
                author = m.provenance.agent_id
                writer = self.scorer.facts(author, now)
                sims, times = None, None
                if not bulk:
                    own = [r for r in tstore.recent_writes(conn, [author], self.screen.recent_own + 1) if r != m.rowid]
                    cohort = self._cohort(author, writer.created_at)
                    near = own[: self.screen.recent_own] + tstore.recent_writes(conn, cohort, self.screen.recent_cohort)
                    vecs = [v for v in (batch.get(r) if r in batch else index.vector(r) for r in near) if v is not None]
                    sims = np.stack(vecs) @ vectors[i] if vecs else np.zeros(0, dtype=np.float32)
                    times = tstore.write_times(conn, author, now - self.detect.burst_window_s)
                evs += screen_write(
                    content=m.content, mref=self.ledger.mref(m.id), writer=writer, now=now,
                    write_times=times, recent_similarities=sims,
                    neighbours=self._neighbours(m, candidates[i], snap),
                    params=self.params, detect=self.detect, screen=self.screen,
                )
            evs += self._sweep(now)
            self.ledger.append(evs)

    def _cohort(self, author: str, created_at: float) -> list[str]:
        w = self.params.cohort_window_s
        return [a for a, t in tstore.agent_facts(self.conn).items() if a != author and abs(t - created_at) <= w]

    def _candidates(self, memories: list[Memory], vectors: np.ndarray, index, private: dict[str, str]) -> list[list]:
        """Nearest stored memories of each new one, in the namespaces its author may read.
        The author's own copies must not hide the memories of others (a flood of five
        near-identical poisoned notes would otherwise fill every slot): look further, skip
        them later. One matrix product per group of authors with the same view (imports)."""
        k = self.screen.neighbours + self.screen.neighbour_scan
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, m in enumerate(memories):
            author = m.provenance.agent_id
            groups.setdefault(tuple(ns for ns, owner in private.items() if owner != author), []).append(i)
        out: list[list] = [[] for _ in memories]
        for exclude, idx in groups.items():
            for i, hits in zip(idx, index.search_many(vectors[idx], k, index.namespace_mask(None, exclude))):
                out[i] = hits
        return out

    def _neighbours(self, m: Memory, hits: list, snap: Snapshot) -> list[Neighbour]:
        hits = [h for h in hits if h.score >= self.detect.conflict_sim and h.rowid != m.rowid]
        if not hits:
            return []
        mems = mstore.get_by_rowids(self.conn, [h.rowid for h in hits])
        out: list[Neighbour] = []
        for h in hits:
            nm = mems.get(h.rowid)
            if nm is None or nm.provenance.agent_id == m.provenance.agent_id:
                continue
            mt = snap.memory(nm.id, nm.provenance.agent_id, nm.created_at, nm.provenance.by_operator)
            out.append(Neighbour(self.ledger.mref(nm.id), self.scorer.facts(nm.provenance.agent_id, snap.now),
                                 nm.content, h.score, mt.mean))
        # trusted neighbours first: copies by a swarm of fresh identities must not hide the
        # established memory they contradict (stable: by similarity within each group)
        out.sort(key=lambda nb: nb.trust < self.screen.trusted_neighbour)
        return out[: self.screen.neighbours]

    def _sweep(self, now: float, force: bool = False) -> list[Evidence]:
        """Probation: writes older than probation_days with no negative evidence -> accepted_write."""
        last = float(tstore.state_get(self.conn, "last_sweep") or 0.0)
        if not force and now - last < self.sweep_every_s:
            return []
        tstore.state_set(self.conn, "last_sweep", repr(now))
        pending = tstore.pending_writes(self.conn, now - self.params.probation_days * DAY)
        if not pending:
            return []
        facts = [MemoryFacts(self.ledger.mref(w.memory_id), w.author_id, w.written_at) for w in pending]
        flagged = {f.memory_id for f in facts if any(e.weight < 0 for e in self.ledger.by_memory.get(f.memory_id, ()))}
        tstore.set_probation(self.conn, [(w.memory_rowid, "rejected" if f.memory_id in flagged else "accepted")
                                         for w, f in zip(pending, facts)])
        return probation_passed(facts, flagged, now, self.params)

    def before_delete(self, conn: sqlite3.Connection, memories: list[Memory]) -> None:
        with self.lock:
            self._ingest_feedback()  # its rows go with the memories
            by = self._deleting_by
            mine = [m for m in memories if by is not None and m.provenance.agent_id == by]
            if not mine:
                return  # operator deletions and erasure say nothing about the author
            now = self.clock()
            written = tstore.written_at(conn, [m.rowid for m in mine])
            evs = []
            for m in mine:
                sig = deleted_soon(written.get(m.rowid, m.created_at), now, by_author=True, params=self.detect)
                if sig.score >= self.detect.min_record_score:
                    evs.append(make_evidence(sig.kind, "agent", by, created_at=now, strength=sig.score,
                                             details={"memory_id": self.ledger.mref(m.id), "score": round(sig.score, 4)}))
            self.ledger.append(evs)

    # ---- read policy: called by MemoryService.search ----------------------------------------
    def apply(self, hits: list[SearchHit], query: str, include_quarantined: bool, now: float,
              limit: int | None = None) -> list[SearchHit]:
        """Re-rank fused hits by relevance x trust; leave quarantined memories out (or mark
        them). A hit that poses this very query as a question and answers it (PoisonedRAG)
        sinks in *this* request only: reads are never evidence against authors."""
        with self.lock:
            self._refresh()
            posed = recall_stuffing(query, [(h.memory.id, h.memory.content)
                                            for h in hits[: self.screen.recall_candidates]], self.detect)
            snap = self.scorer.snapshot(now)
            scored = []
            floor = self.params.recall_stuffing_floor
            for i, h in enumerate(hits):
                m = h.memory
                mt = snap.memory(m.id, m.provenance.agent_id, m.created_at, m.provenance.by_operator)
                if mt.quarantined and not include_quarantined:
                    continue
                rank = rank_score(max(0.0, h.score), mt.mean, self.params, mt.score.penalty)
                sunk = m.id in posed and not mt.operator
                if sunk:
                    rank *= 1.0 - (1.0 - floor) * posed[m.id]
                scored.append((mt.quarantined, sunk, -rank, i, h, mt))
        # a memory that poses this very query and answers it (PoisonedRAG) comes after every
        # other hit of this request (five copies would otherwise set the relevance scale);
        # quarantined memories (only here when asked for) after everything
        scored.sort(key=lambda t: t[:4])
        out = []
        for _, sunk, neg_rank, _, h, mt in scored[:limit]:  # explained only when returned
            why = f"{h.why} + {_trust_why(mt)}" if h.why else _trust_why(mt)
            if sunk:
                why += f"; asks this very question and answers it ({posed[h.memory.id]:.2f}): last in this request"
            out.append(replace(h, score=-neg_rank, trust=mt.mean, why=why, quarantined=mt.quarantined))
        return out

    # ---- reads -------------------------------------------------------------------------------
    def _snapshot(self) -> Snapshot:
        self._refresh()
        return self.scorer.snapshot(self.clock())

    def agent_trust(self, agent_id: str) -> TrustScore:
        with self.lock:
            self._known(agent_id)
            return self._snapshot().agent(agent_id)

    def memory_trust(self, memory_id: str) -> MemoryTrust:
        with self.lock:
            m = self.memories.get(memory_id)
            return self._snapshot().memory(m.id, m.provenance.agent_id, m.created_at, m.provenance.by_operator)

    def _all_memory_trust(self, snap: Snapshot) -> list[tuple[int, MemoryTrust]]:
        return [(rowid, snap.memory(mid, author, created, tool == OPERATOR_TOOL))
                for rowid, mid, author, created, tool in tstore.memory_rows(self.conn)]

    def agents(self) -> list[AgentTrust]:
        """Every agent trust knows of (writers, feedback givers, registered agents)."""
        with self.lock:
            snap = self._snapshot()
            facts = tstore.agent_facts(self.conn)
            counts = tstore.write_counts(self.conn)
            quarantined: dict[str, int] = {}
            for _, mt in self._all_memory_trust(snap):
                quarantined[mt.author_id] = quarantined.get(mt.author_id, 0) + mt.quarantined
            return [AgentTrust(a, t, snap.agent(a), counts.get(a, 0), quarantined.get(a, 0))
                    for a, t in sorted(facts.items())]

    def agent(self, agent_id: str) -> AgentTrust:
        return next(a for a in self.agents() if a.agent_id == self._known(agent_id))

    def quarantined(self) -> list[Quarantined]:
        """Memories recall leaves out, lowest trust first."""
        with self.lock:
            snap = self._snapshot()
            bad = [(rowid, mt) for rowid, mt in self._all_memory_trust(snap) if mt.quarantined]
            mems = mstore.get_by_rowids(self.conn, [r for r, _ in bad])
        out = [Quarantined(mems[r], mt) for r, mt in bad if r in mems]
        return sorted(out, key=lambda q: (q.trust.mean, q.memory.id))

    def explain(self, subject: str) -> Explanation:
        """The evidence that moved an agent or a memory, with its tier, in words."""
        return explain(self, subject)

    def verify(self) -> LogVerification:
        with self.lock:
            return self.ledger.verify()

    def _known(self, agent_id: str) -> str:
        if agent_id not in tstore.agent_facts(self.conn, [agent_id]):
            raise NotFoundError(f"no agent named {agent_id!r} is known to trust")
        return agent_id

    # ---- events ------------------------------------------------------------------------------
    def feedback(self, memory_id: str, verdict: str, *, agent_id: str | None = None, note: str | None = None) -> FeedbackEvent:
        """Record useful / wrong / harmful about a memory; ``agent_id`` None: the operator.
        An agent praising its own memory is recorded as a self-corroboration attempt."""
        with self.lock:
            ev = self._feedback.record(memory_id, verdict, agent_id=agent_id or OPERATOR, note=note)
            self._refresh()
        return ev

    def forget(self, memory_ids: Iterable[str], *, by: str | None = None,
               caller: Caller = OPERATOR_CALLER) -> list[Memory]:
        """Delete memories on behalf of ``by`` (an agent; None: the operator), within what
        ``caller`` may delete. An author deleting its own memory within an hour of writing
        it is recorded (hit and run)."""
        with self.lock:
            self._deleting_by = by if by is not None or caller.operator else caller.agent_id
            try:
                return self.memories.forget_many(memory_ids, caller=caller)
            finally:
                self._deleting_by = None

    def sweep(self) -> int:
        """Run the probation sweep now; returns how many writes were accepted."""
        with self.lock:
            with transaction(self.conn):
                self.ledger.sync()
                evs = self._sweep(self.clock(), force=True)
                self.ledger.append(evs)
            self.ledger.sync()
            return len(evs)

    # ---- operator ----------------------------------------------------------------------------
    def _operator(self, kind: EvidenceKind, subject_type: str, subject_id: str, details: dict | None = None) -> None:
        with transaction(self.conn):
            self.ledger.append([make_evidence(kind, subject_type, subject_id, created_at=self.clock(), details=details)])
        self.ledger.sync()

    def vouch(self, agent_id: str) -> TrustScore:
        with self.lock:
            self._operator(EvidenceKind.OPERATOR_VOUCH, "agent", self._known(agent_id))
            return self.agent_trust(agent_id)

    def flag(self, agent_id: str) -> TrustScore:
        with self.lock:
            self._operator(EvidenceKind.OPERATOR_FLAG, "agent", self._known(agent_id))
            return self.agent_trust(agent_id)

    def release(self, memory_id: str) -> MemoryTrust:
        """Let recall return this memory again (an operator vouch on the memory)."""
        with self.lock:
            m = self.memories.get(memory_id)
            self._operator(EvidenceKind.OPERATOR_VOUCH, "memory", self.ledger.mref(m.id), {"action": RELEASE})
            return self.memory_trust(memory_id)

    def purge(self, *, erasure: Any | None = None) -> Purge:
        """Delete every quarantined memory. With ``erasure`` (an ErasureService: App.erasure)
        they are erased like any GDPR request: derived stores (graph, model ledger) erase with
        them, the FTS index and free pages are cleaned, and a sealed receipt is written.
        Without it they go through ``MemoryService.forget_many`` (rows, FTS, vectors and every
        listener's derived rows). Their evidence stays in the log (it holds no content)."""
        with self.lock:
            items = self.quarantined()
        if not items:
            return Purge([], None)
        ids = tuple(q.memory.id for q in items)
        if erasure is None:
            with self.lock:
                return Purge(self.memories.forget_many(ids), None)
        from ..erasure.models import ErasureRequest  # noqa: PLC0415 - only the purge needs it

        receipt = erasure.execute(ErasureRequest(memory_ids=ids), confirm=True)
        return Purge([q.memory for q in items], receipt)


def _trust_why(mt: MemoryTrust) -> str:
    if mt.quarantined:
        head = f"QUARANTINED: {mt.reason}"
    elif mt.operator:
        head = f"trust {mt.mean:.2f} (written by the operator)"
    elif mt.released:
        head = f"trust {mt.mean:.2f}, released by the operator"
    else:
        head = f"trust {mt.mean:.2f} (author {mt.author_id} {mt.author.mean:.2f})"
    own = [r for r in mt.score.reasons[1:] if not r.startswith("ignored")]
    return f"{head}; {own[0]}" if own and mt.mean < 0.75 else head
