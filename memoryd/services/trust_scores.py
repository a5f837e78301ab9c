"""Trust scores at read time, from the RAM mirror of the evidence log.

Scores are never stored: a memory's trust is computed from its author's *current* trust
and the evidence about it, so when an agent turns bad everything it wrote is re-scored on
the next read. To keep that cheap:

* time is quantised: scores are computed at ``now_q = ceil(now / quantum) * quantum``
  (default 10 minutes; the fastest half-life is 7 days, so this moves nothing measurable);
* an agent's score is cached under a key holding everything it depends on: the mirror's
  generation, how many evidence records the agent has (the log is append-only), ``now_q``,
  its facts (creation time), and the exact standings of the agents whose feedback or
  corroboration it received. New evidence about it, or about those sources, changes the key;
* a :class:`Snapshot` is one request's view: each author scored once, memories on demand.

Source standings (for feedback and corroboration) use the sources' own current scores;
a cycle (A rated B, B rated A) is cut by using the last score computed for the agent
already being scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..db.driver import sqlite3
from ..store import trust as tstore
from ..trust import (
    AGENT_SOURCED_KINDS,
    AgentFacts,
    Evidence,
    EvidenceKind,
    MemoryFacts,
    SourceStanding,
    TrustParams,
    TrustScore,
    agent_trust,
    memory_trust,
    quarantine_decision,
)
from .trust_ledger import EvidenceLedger

__all__ = ["MemoryTrust", "TrustScorer", "Snapshot", "RELEASE"]

RELEASE = "release"  # details.action of the operator_vouch that releases a memory from quarantine
_MAX_DEPTH = 4  # source-of-a-source chains deeper than this use cached scores only


@dataclass(frozen=True)
class MemoryTrust:
    memory_id: str
    author_id: str
    score: TrustScore
    author: TrustScore
    quarantined: bool
    released: bool  # the operator released it from quarantine
    reason: str

    @property
    def mean(self) -> float:
        return self.score.mean

    def to_dict(self) -> dict[str, Any]:
        return {
            "memory_id": self.memory_id,
            "author": self.author_id,
            "trust": round(self.score.mean, 4),
            "lower_bound": round(self.score.lower_bound, 4),
            "author_trust": round(self.author.mean, 4),
            "quarantined": self.quarantined,
            "released": self.released,
            "reason": self.reason,
            "reasons": list(self.score.reasons),
        }


def released(evs: list[Evidence]) -> bool:
    """The operator's last word on this memory was a release."""
    for ev in reversed(evs):
        if ev.source_agent_id is None and ev.kind in (EvidenceKind.OPERATOR_VOUCH, EvidenceKind.OPERATOR_FLAG):
            return ev.kind is EvidenceKind.OPERATOR_VOUCH and ev.details.get("action") == RELEASE
    return False


class TrustScorer:
    def __init__(self, conn: sqlite3.Connection, ledger: EvidenceLedger, params: TrustParams, quantum_s: float):
        self.conn = conn
        self.ledger = ledger
        self.params = params
        self.quantum_s = quantum_s
        self._facts: dict[str, AgentFacts] = {}
        self._agent_cache: dict[str, tuple[tuple, TrustScore]] = {}

    def now_q(self, now: float) -> float:
        q = self.quantum_s
        return math.ceil(now / q) * q if q > 0 else now

    def facts(self, agent_id: str, now: float) -> AgentFacts:
        f = self._facts.get(agent_id)
        if f is None:
            known = tstore.agent_facts(self.conn, [agent_id])
            if agent_id not in known:
                return AgentFacts(agent_id, now)  # never seen: as fresh as can be (not cached)
            f = self._facts[agent_id] = AgentFacts(agent_id, known[agent_id])
        return f

    def all_agent_ids(self) -> list[str]:
        return sorted(tstore.agent_facts(self.conn))

    def snapshot(self, now: float) -> Snapshot:
        return Snapshot(self, now)

    def _agent(self, agent_id: str, snap: Snapshot, stack: tuple[str, ...]) -> TrustScore:
        evs = self.ledger.by_agent.get(agent_id, [])
        facts = self.facts(agent_id, snap.now_q)
        sources = snap.standings(evs, stack + (agent_id,), exclude=agent_id)
        key = (
            self.ledger.generation, len(evs), snap.now_q, facts,
            tuple(sorted((s, st.trust, st.facts.created_at) for s, st in sources.items())),
        )
        hit = self._agent_cache.get(agent_id)
        if hit is not None and hit[0] == key:
            return hit[1]
        score = agent_trust(evs, snap.now_q, self.params, agent=facts, sources=sources)
        self._agent_cache[agent_id] = (key, score)
        return score

    def last_score(self, agent_id: str) -> TrustScore | None:
        hit = self._agent_cache.get(agent_id)
        return hit[1] if hit else None


class Snapshot:
    """One request's consistent view: every agent scored at most once."""

    def __init__(self, scorer: TrustScorer, now: float):
        self.scorer = scorer
        self.now = now
        self.now_q = scorer.now_q(now)
        self._agents: dict[str, TrustScore] = {}
        self._plain: dict[str, TrustScore] = {}  # author -> trust of its memories without evidence

    def agent(self, agent_id: str, _stack: tuple[str, ...] = ()) -> TrustScore:
        s = self._agents.get(agent_id)
        if s is None:
            s = self._agents[agent_id] = self.scorer._agent(agent_id, self, _stack)
        return s

    def standings(self, evs: list[Evidence], stack: tuple[str, ...], exclude: str | None = None) -> dict[str, SourceStanding]:
        out: dict[str, SourceStanding] = {}
        srcs = {e.source_agent_id for e in evs if e.source_agent_id and e.kind in AGENT_SOURCED_KINDS}
        for src in sorted(srcs - {exclude}):
            facts = self.scorer.facts(src, self.now_q)
            if src in self._agents:
                score = self._agents[src]
            elif src in stack or len(stack) > _MAX_DEPTH:
                score = self.scorer.last_score(src)  # a cycle: the score computed last time, if any
                if score is None:
                    continue  # unknown source: its evidence counts unknown_source_reliability
            else:
                score = self.agent(src, stack)
            out[src] = SourceStanding(facts, score.mean)
        return out

    def memory(self, memory_id: str, author_id: str, created_at: float) -> MemoryTrust:
        scorer = self.scorer
        author = self.agent(author_id)
        mref = scorer.ledger.mref(memory_id)
        evs = scorer.ledger.by_memory.get(mref, [])
        facts = MemoryFacts(mref, author_id, created_at)  # the log names memories by mref
        if evs:
            sources = self.standings(evs, (), exclude=author_id)
            score = memory_trust(facts, author, evs, self.now_q, scorer.params,
                                 author=scorer.facts(author_id, self.now_q), sources=sources)
        else:  # no evidence about the memory itself: the same for every memory of this author
            score = self._plain.get(author_id)
            if score is None:
                score = self._plain[author_id] = memory_trust(facts, author, (), self.now_q, scorer.params)
        q, reason = quarantine_decision(score, scorer.params)
        rel = bool(evs) and released(evs)
        if q and rel:
            q, reason = False, f"released by the operator (trust {score.mean:.3f})"
        return MemoryTrust(memory_id, author_id, score, author, q, rel, reason)
