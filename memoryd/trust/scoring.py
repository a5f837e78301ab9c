"""Bayesian Beta(alpha, beta) trust for agents and memories (pure: ``now`` is passed in).

    agent:   alpha = prior_alpha + positive evidence,  beta = prior_beta + negative evidence
    memory:  alpha = floor + s * t_author + positive,  beta = floor + s * (1 - t_author) + negative

where every piece of evidence counts ``weight(kind) * strength * reliability(source) *
0.5 ** (age / half_life(kind))`` pseudo-counts, then

1. per-source caps: one source agent moves one subject by at most a few pseudo-counts;
2. per-kind caps: weak behavioural kinds (bursts, deletions) cannot dominate;
3. the age ramp (agents only): earned positive mass <= fresh + per_day * age (an operator's
   vouch is exempt), all positive mass <= max_alpha;
4. severe evidence (``discount > 0``) removes a fraction of the positive mass accumulated
   *before* it, so a long honest past cannot shield a sleeper.

A memory's prior is its author's *current* trust: when an agent turns bad, every memory it
ever wrote is re-scored on the next read. Self-declared importance is never an input.
Rationale of every number: docs/trust.md; the numbers: :mod:`memoryd.trust.params`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ValidationError
from .evidence import AGENT_SOURCED_KINDS, POLARITY, Evidence, EvidenceKind, make_evidence
from .params import DAY, DEFAULT_PARAMS, TrustParams
from .sources import OPERATOR_KINDS, AgentFacts, SourceStanding, source_reliability
from .tiers import tier

__all__ = [
    "MemoryFacts",
    "TrustScore",
    "decay",
    "beta_score",
    "agent_trust",
    "memory_trust",
    "trust_multiplier",
    "rank_score",
    "quarantine_decision",
    "probation_passed",
    "combine_penalties",
]


@dataclass(frozen=True)
class MemoryFacts:
    memory_id: str
    author_id: str
    created_at: float
    importance: float = 0.5  # self-declared by the writer: deliberately never used for trust


@dataclass(frozen=True)
class TrustScore:
    alpha: float
    beta: float
    mean: float  # alpha / (alpha + beta)
    lower_bound: float  # mean - z * sd, clipped to [0, 1]
    n: int  # evidence items that contributed
    reasons: tuple[str, ...]  # human-readable, largest contribution first
    penalty: float = 0.0  # ranking penalty from behaviour-tier evidence, in [0, behaviour_max_penalty]


def decay(age_s: float, half_life_days: float) -> float:
    """0.5 ** (age / half-life); 1.0 for age <= 0 or an infinite half-life."""
    if age_s <= 0 or math.isinf(half_life_days):
        return 1.0
    return math.pow(0.5, age_s / (half_life_days * DAY))


def beta_score(
    alpha: float, beta: float, n: int = 0, reasons: tuple[str, ...] = (), params: TrustParams = DEFAULT_PARAMS,
    penalty: float = 0.0,
) -> TrustScore:
    if not (alpha > 0 and beta > 0):
        raise ValueError("Beta parameters must be positive")
    total = alpha + beta
    mean = alpha / total
    sd = math.sqrt(alpha * beta / (total * total * (total + 1.0)))
    lower = min(1.0, max(0.0, mean - params.lower_bound_z * sd))
    return TrustScore(alpha, beta, mean, lower, n, reasons, penalty)


def _clamp01(x: float) -> float:
    return 0.0 if x <= 0 else 1.0 if x >= 1 else x


@dataclass
class _Item:
    ev: Evidence
    amount: float  # signed pseudo-counts
    discount: float
    source: str | None  # agent source subject to per-source caps


def _scale_groups(
    items: list[_Item],
    key: Callable[[_Item], Hashable | None],
    cap_of: Callable[[Any], float],
    note: str,
    reasons: list[str],
) -> None:
    """Scale each group's amounts down proportionally so its total |amount| <= its cap."""
    groups: dict[Hashable, list[_Item]] = defaultdict(list)
    for it in items:
        k = key(it)
        if k is not None:
            groups[k].append(it)
    for k, members in groups.items():
        cap = cap_of(k)
        total = sum(abs(it.amount) for it in members)
        if total > cap:
            f = cap / total
            for it in members:
                it.amount *= f
            reasons.append(note.format(k=k, cap=cap))


def _tally(
    evidence: Iterable[Evidence],
    level: Literal["agent", "memory"],
    author_id: str,
    now: float,
    params: TrustParams,
    author: AgentFacts | None,
    sources: Mapping[str, SourceStanding] | None,
    positive_cap: float = math.inf,
    hard_cap: float = math.inf,
    cap_note: str = "",
) -> tuple[float, float, int, list[str]]:
    """(positive pseudo-counts, negative pseudo-counts, items counted, reasons)."""
    items: list[_Item] = []
    ignored: dict[tuple[str, str], int] = defaultdict(int)
    for ev in sorted(evidence, key=lambda e: e.created_at):
        if ev.created_at > now + params.future_skew_s:
            ignored[(ev.kind.value, "the future")] += 1
            continue
        kp = params.kinds[ev.kind]
        w = kp.agent_weight if level == "agent" else kp.memory_weight
        if w == 0 or ev.weight == 0:
            continue
        rel, why = source_reliability(ev, author_id, now, params, author=author, sources=sources)
        if rel <= 0:
            ignored[(ev.kind.value, why or "zero reliability")] += 1
            continue
        amount = POLARITY[ev.kind] * w * ev.strength * rel * decay(now - ev.created_at, kp.half_life_days)
        agent_src = ev.source_agent_id if ev.kind in AGENT_SOURCED_KINDS else None
        items.append(_Item(ev, amount, kp.discount * ev.strength * rel, agent_src))
    reasons: list[str] = []
    src_cap = params.per_source_cap_agent if level == "agent" else params.per_source_cap_memory
    _scale_groups(
        items,
        lambda it: None if it.source is None else (it.source, it.amount > 0),
        lambda k: src_cap,
        "evidence from source {k[0]} capped at {cap:g}",
        reasons,
    )
    _scale_groups(
        items,
        lambda it: it.ev.kind,
        lambda k: params.kinds[k].cap,
        "{k.value} capped at {cap:g}",
        reasons,
    )
    # earned positive mass is capped by the age ramp; an operator's vouch is not (it is a
    # human attestation), but everything together stays under the hard cap
    earned = [it for it in items if it.amount > 0 and it.ev.kind not in OPERATOR_KINDS]
    raw = sum(it.amount for it in earned)
    if raw > positive_cap:
        for it in earned:
            it.amount *= positive_cap / raw
        reasons.append(cap_note.format(cap=positive_cap))
    positive = [it for it in items if it.amount > 0]
    raw = sum(it.amount for it in positive)
    if raw > hard_cap:
        for it in positive:
            it.amount *= hard_cap / raw
        reasons.append(f"positive evidence capped at {hard_cap:g}")
    # chronological pass: severe evidence erases part of the positive mass before it
    pos = neg = 0.0
    budget: dict[str | None, float] = defaultdict(lambda: params.per_source_discount_cap)
    erased_from = 0.0
    for it in items:
        if it.discount > 0 and pos > 0:
            d = min(1.0, it.discount)
            if it.source is not None:
                d = min(d, budget[it.source])
                budget[it.source] -= d
            erased_from += pos * d
            pos *= 1.0 - d
        if it.amount > 0:
            pos += it.amount
        else:
            neg -= it.amount
    per_kind: dict[EvidenceKind, list[float]] = defaultdict(list)
    for it in items:
        per_kind[it.ev.kind].append(it.amount)
    summary = sorted(per_kind.items(), key=lambda kv: -abs(sum(kv[1])))
    lines = [f"{k.value}: {sum(v):+.2f} from {len(v)} event{'s' if len(v) != 1 else ''}" for k, v in summary]
    if erased_from > 0:
        lines.append(f"severe evidence erased {erased_from:.2f} of earlier positive evidence")
    lines += reasons
    lines += [f"ignored {n} {kind} from {why}" for (kind, why), n in sorted(ignored.items())]
    return pos, neg, len(items), lines


def _check_subjects(evidence: Iterable[Evidence], subject_type: str, subject_id: str | None) -> list[Evidence]:
    evs = list(evidence)
    for ev in evs:
        if ev.subject_type != subject_type:
            raise ValidationError(f"{subject_type} trust got evidence about a {ev.subject_type}")
        if subject_id is None:
            subject_id = ev.subject_id
        elif ev.subject_id != subject_id:
            raise ValidationError(f"evidence about {ev.subject_id!r} mixed into the trust of {subject_id!r}")
    return evs


def agent_trust(
    evidence: Iterable[Evidence],
    now: float,
    params: TrustParams = DEFAULT_PARAMS,
    *,
    agent: AgentFacts | None = None,
    sources: Mapping[str, SourceStanding] | None = None,
) -> TrustScore:
    """Trust in one agent from the evidence about it (all with ``subject_type='agent'``).

    ``agent`` gives its registration time (for the age ramp; without it the first evidence
    stands in) and origin (cohort rules). ``sources`` gives the standing of the agents that
    produced feedback/corroboration; agent-sourced evidence from anyone not listed counts
    ``unknown_source_reliability`` (0 by default).
    """
    evs = _check_subjects(evidence, "agent", agent.agent_id if agent else None)
    agent_id = agent.agent_id if agent else (evs[0].subject_id if evs else "")
    born = agent.created_at if agent else min((e.created_at for e in evs), default=now)
    age_days = max(0.0, now - born) / DAY
    cap = min(params.max_alpha, params.fresh_alpha_cap + params.alpha_cap_per_day * age_days)
    note = "positive evidence capped at {cap:.1f} " + f"(agent {age_days:.1f} days old)"
    standing, behaviour = _split(evs)
    pos, neg, n, reasons = _tally(standing, "agent", agent_id, now, params, agent, sources, cap, params.max_alpha, note)
    penalty, lines = _behaviour(behaviour, "agent", agent_id, now, params, agent, sources)
    return beta_score(params.prior_alpha + pos, params.prior_beta + neg, n, tuple(reasons + lines), params, penalty)


def _split(evs: list[Evidence]) -> tuple[list[Evidence], list[Evidence]]:
    """(standing-tier, behaviour-tier) evidence; read-time evidence is dropped (tiers.py)."""
    standing, behaviour = [], []
    for ev in evs:
        t = tier(ev)
        if t == "standing":
            standing.append(ev)
        elif t == "behaviour":
            behaviour.append(ev)
    return standing, behaviour


def _behaviour(evs, level, author_id, now, params, author, sources) -> tuple[float, list[str]]:
    """Weak signals and other agents' complaints: a ranking penalty, bounded, never a quarantine."""
    if not evs:
        return 0.0, []
    _, neg, _, lines = _tally(evs, level, author_id, now, params, author, sources)
    penalty = min(params.behaviour_max_penalty, params.behaviour_per_unit * neg)
    if penalty <= 0:
        return 0.0, []
    return penalty, [f"ranking -{100 * penalty:.0f}% from weak signals (never a quarantine): " + "; ".join(lines)]


def combine_penalties(*penalties: float, params: TrustParams = DEFAULT_PARAMS) -> float:
    keep = 1.0
    for p in penalties:
        keep *= 1.0 - p
    return min(params.behaviour_max_penalty, 1.0 - keep)


def memory_trust(
    memory: MemoryFacts,
    author_trust: TrustScore | float,
    evidence: Iterable[Evidence],
    now: float,
    params: TrustParams = DEFAULT_PARAMS,
    *,
    author: AgentFacts | None = None,
    sources: Mapping[str, SourceStanding] | None = None,
) -> TrustScore:
    """Trust in one memory: its author's *current* trust as prior plus evidence about it."""
    t = author_trust.mean if isinstance(author_trust, TrustScore) else float(author_trust)
    if not 0.0 <= t <= 1.0:
        raise ValueError("author trust must be in [0, 1]")
    evs = _check_subjects(evidence, "memory", memory.memory_id)
    s, floor = params.inherit_strength, params.memory_prior_floor
    standing, behaviour = _split(evs)
    pos, neg, n, reasons = _tally(standing, "memory", memory.author_id, now, params, author, sources)
    own, lines = _behaviour(behaviour, "memory", memory.author_id, now, params, author, sources)
    inherited = author_trust.penalty if isinstance(author_trust, TrustScore) else 0.0
    penalty = combine_penalties(inherited, own, params=params)
    head = f"inherits author {memory.author_id} trust {t:.3f} (weight {s:g})"
    return beta_score(floor + s * t + pos, floor + s * (1.0 - t) + neg, n, (head, *reasons, *lines), params, penalty)


def trust_multiplier(trust: float, params: TrustParams = DEFAULT_PARAMS) -> float:
    """1 at/above rank_full_trust, rank_floor at/below rank_zero_trust, smoothstep between."""
    lo, hi = params.rank_zero_trust, params.rank_full_trust
    x = _clamp01((trust - lo) / (hi - lo))
    return params.rank_floor + (1.0 - params.rank_floor) * x * x * (3.0 - 2.0 * x)


def rank_score(relevance: float, trust: float, params: TrustParams = DEFAULT_PARAMS, penalty: float = 0.0) -> float:
    """Relevance (any non-negative score: RRF, cosine) damped by trust. Trusted memories keep
    their order among themselves; low-trust ones sink below trusted ones of similar relevance.
    ``penalty`` (behaviour tier, <= behaviour_max_penalty) nudges it down a little."""
    if relevance < 0:
        raise ValueError("relevance must be non-negative")
    penalty = min(max(0.0, penalty), params.behaviour_max_penalty)
    return relevance * trust_multiplier(trust, params) * (1.0 - penalty)


def quarantine_decision(trust: TrustScore | float, params: TrustParams = DEFAULT_PARAMS) -> tuple[bool, str]:
    """(quarantined, reason). A quarantined memory is kept but left out of recall."""
    mean = trust.mean if isinstance(trust, TrustScore) else float(trust)
    if mean < params.quarantine_below:
        return True, f"trust {mean:.3f} is below the quarantine threshold {params.quarantine_below:g}"
    return False, f"trust {mean:.3f} is at or above the quarantine threshold {params.quarantine_below:g}"


def probation_passed(
    memories: Iterable[MemoryFacts],
    flagged: Iterable[str],
    now: float,
    params: TrustParams = DEFAULT_PARAMS,
) -> list[Evidence]:
    """ACCEPTED_WRITE evidence (about the author) for each memory older than the probation
    period that has no negative evidence (``flagged``: ids of memories that do). The caller
    passes only memories not yet accepted, and records the result once."""
    bad = set(flagged)
    cutoff = now - params.probation_days * DAY
    return [
        make_evidence(
            EvidenceKind.ACCEPTED_WRITE,
            "agent",
            m.author_id,
            created_at=now,
            details={"memory_id": m.memory_id},
        )
        for m in memories
        if m.created_at <= cutoff and m.memory_id not in bad
    ]
