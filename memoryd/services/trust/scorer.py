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

from ...db.driver import sqlite3
from ...store import trust as tstore
from ...trust import AgentFacts, TrustParams, TrustScore, agent_trust
from .ledger import EvidenceLedger
from .snapshot import Snapshot

__all__ = ["TrustScorer"]


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

    def score_agent(self, agent_id: str, snap: Snapshot, stack: tuple[str, ...]) -> TrustScore:
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
