"""`memoryd trust explain AGENT|ID`: the evidence that moved an agent or a memory, in words.

For the operator, who must be able to see why something is hidden (or demoted) and undo it
(`quarantine release ID`, `trust vouch AGENT`). Every record of the log about the subject is
listed with its tier (memoryd.trust.tiers): ``standing`` moves trust and can hide,
``behaviour`` only nudges ranking, ``ignored`` (reads) moves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ...errors import NotFoundError
from ...store import memories as mstore
from ...store import trust as tstore
from ...trust import Evidence, TrustParams, tier

if TYPE_CHECKING:
    from . import TrustService

__all__ = ["Explanation", "explain"]

_WORDS = {
    "accepted_write": "a write passed probation with nothing against it",
    "feedback_useful": "a reader found it useful",
    "corroborated": "another agent independently wrote the same thing",
    "operator_vouch": "the operator vouched",
    "operator_flag": "the operator flagged it",
    "feedback_wrong": "marked wrong",
    "feedback_harmful": "marked harmful",
    "contradicts_trusted": "contradicts an established memory of another author",
    "deleted_soon_after_write": "deleted its own memory soon after writing it",
    "write_burst": "many writes in a short time",
    "near_duplicate_flood": "near-duplicates of its recent memories",
    "injection_pattern": "instructions aimed at the model reading it",
    "hidden_unicode": "invisible or direction-changing characters",
    "trigger_instruction": "a rare trigger phrase attached to instructions",
    "answer_planting": "tells readers what to answer",
    "query_stuffing": "a question followed by an answer restating it (PoisonedRAG)",
    "self_corroboration_attempt": "praised its own (or its cohort's) memory",
}
_TIER_WORDS = {"standing": "moves trust (can hide)", "behaviour": "ranking only, never hides",
               "ignored": "from a read: moves nothing"}


@dataclass(frozen=True)
class Explanation:
    subject_type: str  # "agent" | "memory"
    subject: str
    trust: float
    ranking_penalty: float
    quarantined: bool | None  # memories only
    summary: list[str]  # the score's reasons, largest first
    evidence: list[dict[str, Any]] = field(default_factory=list)
    verdict: str = ""  # one sentence

    def to_dict(self) -> dict[str, Any]:
        return {"subject_type": self.subject_type, "subject": self.subject, "trust": round(self.trust, 4),
                "ranking_penalty": round(self.ranking_penalty, 4), "quarantined": self.quarantined,
                "verdict": self.verdict, "summary": self.summary, "evidence": self.evidence}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _rows(evs: list[Evidence], params: TrustParams, limit: int) -> list[dict[str, Any]]:
    out = []
    for ev in sorted(evs, key=lambda e: -e.created_at)[:limit]:
        t = tier(ev)
        out.append({
            "at": _iso(ev.created_at), "kind": ev.kind.value, "what": _WORDS.get(ev.kind.value, ev.kind.value),
            "strength": round(abs(ev.weight), 3), "source": ev.source_agent_id or "memoryd/operator",
            "tier": t, "effect": _TIER_WORDS[t],
            **({"memory": ev.details["memory_id"]} if "memory_id" in ev.details else {}),
        })
    return out


def explain(svc: TrustService, subject: str, *, limit: int = 50) -> Explanation:
    """``subject``: an agent id trust knows, or a memory id."""
    with svc.lock:
        known = tstore.agent_facts(svc.conn, [subject])
        if subject in known:
            a = svc.agent(subject)
            evs = list(svc.ledger.by_agent.get(subject, []))
            verdict = (f"{a.quarantined} of its {a.memories} memories are hidden" if a.quarantined
                       else f"none of its {a.memories} memories is hidden")
            if a.score.mean < svc.params.quarantine_below:
                verdict += "; its standing is below the line, so its memories without their own content evidence " \
                           "are hidden only if many of its writes carried content evidence or the operator flagged it"
            return Explanation("agent", subject, a.score.mean, a.score.penalty, None, list(a.score.reasons),
                               _rows(evs, svc.params, limit), verdict)
        m = mstore.get_by_id(svc.conn, subject)
        if m is None:
            raise NotFoundError(f"{subject!r} is neither an agent trust knows nor a memory id")
    mt = svc.memory_trust(m.id)
    evs = list(svc.ledger.by_memory.get(svc.ledger.mref(m.id), []))
    undo = f" Undo: memoryd quarantine release {m.id}" if mt.quarantined else ""
    return Explanation("memory", m.id, mt.mean, mt.score.penalty, mt.quarantined,
                       list(mt.score.reasons), _rows(evs, svc.params, limit), mt.reason + "." + undo)
