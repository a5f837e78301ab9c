"""One request's view of trust (:class:`Snapshot`): each author scored once, each memory on
demand, with the quarantine decision and its grounds in words (:class:`MemoryTrust`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...store import trust as tstore
from ...trust import (
    AGENT_SOURCED_KINDS,
    OPERATOR_KINDS,
    Evidence,
    EvidenceKind,
    MemoryFacts,
    SourceStanding,
    TrustScore,
    agent_trust,
    beta_score,
    is_content_evidence,
    memory_trust,
    quarantine_decision,
)

if TYPE_CHECKING:
    from .scorer import TrustScorer

__all__ = ["MemoryTrust", "Snapshot", "RELEASE", "released"]

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
    reason: str  # in words: why it is (or is not) hidden
    operator: bool = False  # written or imported by the operator: only the operator's word moves it

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
            "operator": self.operator,
            "ranking_penalty": round(self.score.penalty, 4),
            "reasons": list(self.score.reasons),
        }


def released(evs: list[Evidence]) -> bool:
    """The operator's last word on this memory was a release."""
    for ev in reversed(evs):
        if ev.source_agent_id is None and ev.kind in (EvidenceKind.OPERATOR_VOUCH, EvidenceKind.OPERATOR_FLAG):
            return ev.kind is EvidenceKind.OPERATOR_VOUCH and ev.details.get("action") == RELEASE
    return False


class Snapshot:
    """One request's consistent view: every agent scored at most once."""

    def __init__(self, scorer: TrustScorer, now: float):
        self.scorer = scorer
        self.now = now
        self.now_q = scorer.now_q(now)
        self._agents: dict[str, TrustScore] = {}
        self._plain: dict[str, TrustScore] = {}  # author -> trust of its memories without evidence
        self._counts: dict[str, int] | None = None  # writes per author (bad_share), read once

    def agent(self, agent_id: str, _stack: tuple[str, ...] = ()) -> TrustScore:
        s = self._agents.get(agent_id)
        if s is None:
            s = self._agents[agent_id] = self.scorer.score_agent(agent_id, self, _stack)
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

    def memory(self, memory_id: str, author_id: str, created_at: float, operator: bool = False) -> MemoryTrust:
        """Trust of one memory. ``operator``: written by the operator (provenance.by_operator);
        then only the operator's own evidence (flag, vouch, its CLI feedback) counts.

        Quarantine (trust v2): trust below the line *and* a ground for hiding it -- strong
        content evidence about this memory, an operator flag (on it or its author), or an
        author with at least ``quarantine_min_bad`` memories with content evidence making up
        ``quarantine_bad_share`` of its writes. Weak signals and other agents' complaints are
        not in the score's standing at all (memoryd.trust.tiers)."""
        if operator:
            return self._operator_memory(memory_id, author_id, created_at)
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
        low, _ = quarantine_decision(score, scorer.params)
        grounds = self._grounds(evs, author_id, author) if low else None
        q = low and grounds is not None
        rel = bool(evs) and released(evs)
        if q and rel:
            return MemoryTrust(memory_id, author_id, score, author, False, True,
                               f"released by the operator (trust {score.mean:.2f})")
        if q:
            reason = f"hidden: trust {score.mean:.2f} < {scorer.params.quarantine_below:g} because {grounds}"
        elif low:
            reason = f"trust {score.mean:.2f} is low but nothing about its content or an operator flag hides it"
        else:
            reason = f"trust {score.mean:.2f}: recalled"
        return MemoryTrust(memory_id, author_id, score, author, q, rel, reason)

    def _grounds(self, evs: list[Evidence], author_id: str, author: TrustScore) -> str | None:
        """In words, what justifies hiding a low-trust memory; None: nothing does."""
        own = [e for e in evs if is_content_evidence(e)]
        if own:
            kinds = sorted({e.kind.value for e in own})
            return "of its content: " + ", ".join(k.replace("_", " ") for k in kinds)
        if any(e.kind is EvidenceKind.OPERATOR_FLAG and e.source_agent_id is None for e in evs):
            return "the operator flagged it"
        agent_evs = self.scorer.ledger.by_agent.get(author_id, [])
        if any(e.kind is EvidenceKind.OPERATOR_FLAG and e.source_agent_id is None for e in agent_evs):
            return f"the operator flagged its author {author_id}"
        bad, total = self.bad_share(author_id)
        p = self.scorer.params
        if bad >= p.quarantine_min_bad and bad >= p.quarantine_bad_share * total:
            return (f"its author {author_id} (trust {author.mean:.2f}) wrote {bad} of {total} memories "
                    "with content evidence (injection, planted answers, stuffing, contradictions)")
        return None

    def bad_share(self, author_id: str) -> tuple[int, int]:
        """(memories of this author with content evidence, its writes)."""
        if self._counts is None:
            self._counts = tstore.write_counts(self.scorer.conn)
        bad = {e.details.get("memory_id") for e in self.scorer.ledger.by_agent.get(author_id, [])
               if is_content_evidence(e)}
        bad.discard(None)
        return len(bad), max(len(bad), self._counts.get(author_id, 0))

    def operator_standing(self, author_id: str) -> TrustScore:
        """The operator is trusted: 0.98 unless its own flag says otherwise."""
        p = self.scorer.params
        evs = [e for e in self.scorer.ledger.by_agent.get(author_id, [])
               if e.kind in OPERATOR_KINDS and e.source_agent_id is None]
        if not any(e.kind is EvidenceKind.OPERATOR_FLAG for e in evs):
            return beta_score(p.max_alpha, p.prior_beta, 0, ("written by the operator: trusted",), p)
        return agent_trust(evs, self.now_q, p, agent=self.scorer.facts(author_id, self.now_q))

    def _operator_memory(self, memory_id: str, author_id: str, created_at: float) -> MemoryTrust:
        scorer = self.scorer
        author = self.operator_standing(author_id)
        mref = scorer.ledger.mref(memory_id)
        evs = [e for e in scorer.ledger.by_memory.get(mref, []) if e.source_agent_id is None
               and (e.kind in OPERATOR_KINDS or e.kind.value.startswith("feedback_"))]
        score = memory_trust(MemoryFacts(mref, author_id, created_at), author, evs, self.now_q, scorer.params)
        q, _ = quarantine_decision(score, scorer.params)
        rel = bool(evs) and released(evs)
        if q and rel:
            return MemoryTrust(memory_id, author_id, score, author, False, True,
                               f"released by the operator (trust {score.mean:.2f})", operator=True)
        reason = (f"hidden: the operator flagged it or its author (trust {score.mean:.2f})" if q
                  else "written by the operator: only the operator's own flag can hide it")
        return MemoryTrust(memory_id, author_id, score, author, q, rel, reason, operator=True)
