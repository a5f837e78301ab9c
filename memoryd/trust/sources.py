"""Who may vouch for whom: the Sybil-resistance rules of trust scoring (pure).

Evidence produced by memoryd itself (detectors, sweeps) or by the operator counts fully.
Evidence produced by *agents* (feedback, corroboration) is weighted by its source:

* never the author itself for positive kinds (self-corroboration, self-praise);
* never an agent of the author's cohort (registered within ``cohort_window_s``) or of the
  same ``origin`` (same issuing operator / client) for positive kinds;
* corroboration only from *established* sources: older than ``establish_age_days`` and
  trusted at least ``established_trust``;
* feedback scaled by the source's trust (0 at ``source_floor``, 1 at ``established_trust``)
  times its age ramp (0 at registration, 1 after ``establish_age_days``);
* sources scoring knows nothing about count ``unknown_source_reliability`` (0).

Operator kinds attributed to an agent count zero: only memoryd itself records those.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .evidence import AGENT_SOURCED_KINDS, POLARITY, Evidence, EvidenceKind
from .params import DAY, DEFAULT_PARAMS, TrustParams

__all__ = ["AgentFacts", "SourceStanding", "OPERATOR_KINDS", "independent", "is_established", "source_reliability"]

OPERATOR_KINDS = frozenset({EvidenceKind.OPERATOR_VOUCH, EvidenceKind.OPERATOR_FLAG})


@dataclass(frozen=True)
class AgentFacts:
    agent_id: str
    created_at: float  # when the agent was registered (agents.created_at)
    origin: str | None = None  # who/where created it (issuing operator, client); same origin = one party


@dataclass(frozen=True)
class SourceStanding:
    """What scoring needs to know about an agent that produced evidence about someone else."""

    facts: AgentFacts
    trust: float  # its current mean trust (a snapshot from the last recompute is fine)


def independent(a: AgentFacts, b: AgentFacts, params: TrustParams = DEFAULT_PARAMS) -> bool:
    """Different agents, different origins, not created within one cohort window."""
    if a.agent_id == b.agent_id:
        return False
    if a.origin is not None and a.origin == b.origin:
        return False
    return abs(a.created_at - b.created_at) > params.cohort_window_s


def is_established(source: SourceStanding, now: float, params: TrustParams = DEFAULT_PARAMS) -> bool:
    age = now - source.facts.created_at
    return age >= params.establish_age_days * DAY and source.trust >= params.established_trust


def _clamp01(x: float) -> float:
    return 0.0 if x <= 0 else 1.0 if x >= 1 else x


def source_reliability(
    ev: Evidence,
    author_id: str,
    now: float,
    params: TrustParams = DEFAULT_PARAMS,
    *,
    author: AgentFacts | None = None,
    sources: Mapping[str, SourceStanding] | None = None,
) -> tuple[float, str | None]:
    """How much one piece of evidence counts, in [0, 1], and why it was reduced (or None).

    Server evidence (``source_agent_id is None``) counts fully. Agent-sourced kinds
    (feedback, corroboration) depend on the source: never the author itself for positive
    kinds, never its cohort or origin, corroboration only from established sources,
    feedback scaled by the source's trust and age.
    """
    src = ev.source_agent_id
    if ev.kind in OPERATOR_KINDS:
        return (1.0, None) if src is None else (0.0, "operator evidence attributed to an agent")
    if src is None or ev.kind not in AGENT_SOURCED_KINDS:
        return 1.0, None
    positive = POLARITY[ev.kind] > 0
    if src == author_id:
        return (0.0, "the author itself") if positive else (1.0, None)
    standing = (sources or {}).get(src)
    if standing is None:
        r = params.unknown_source_reliability
        return r, (None if r >= 1 else "an unknown source")
    if positive and author is not None and not independent(standing.facts, author, params):
        return 0.0, "the author's cohort or origin"
    if ev.kind is EvidenceKind.CORROBORATED:
        return (1.0, None) if is_established(standing, now, params) else (0.0, "an unestablished source")
    span = params.established_trust - params.source_floor
    trust_f = (
        _clamp01((standing.trust - params.source_floor) / span)
        if span > 0
        else float(standing.trust >= params.established_trust)
    )
    age_f = _clamp01((now - standing.facts.created_at) / (params.establish_age_days * DAY))
    r = trust_f * age_f
    return r, (None if r >= 1 else "a low-trust or young source")
