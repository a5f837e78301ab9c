"""Every weight of the trust model, in one place (rationale: docs/trust.md).

Units: a *weight* is Beta pseudo-counts added per unit of evidence strength (an event of
strength 1.0 with agent_weight 4 adds 4 to the agent's beta). Half-lives are in days.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .evidence import EvidenceKind as K

__all__ = ["KindParams", "TrustParams", "DEFAULT_KINDS", "DEFAULT_PARAMS", "DAY"]

DAY = 86_400.0


@dataclass(frozen=True)
class KindParams:
    agent_weight: float  # pseudo-counts per unit strength on the agent's Beta
    memory_weight: float  # ... on the memory's Beta (0: this kind is agent-level only)
    half_life_days: float  # evidence weight halves every this many days (inf: never)
    discount: float = 0.0  # severe kinds: fraction of *earlier* positive mass removed per unit
    cap: float = math.inf  # most decayed pseudo-counts this kind can add to one subject


DEFAULT_KINDS: Mapping[K, KindParams] = MappingProxyType(
    {
        # positive --------------------- (agent_weight, memory_weight, half_life_days)
        K.ACCEPTED_WRITE: KindParams(0.5, 0.0, 90),  # slow, volume-capped by the age ramp
        K.FEEDBACK_USEFUL: KindParams(1.0, 1.0, 60),
        K.CORROBORATED: KindParams(1.0, 2.0, 180),  # only independent established sources count
        K.OPERATOR_VOUCH: KindParams(10.0, 10.0, 365),
        # negative: weak, noisy, behavioural ------------------------------------------------
        K.DELETED_SOON_AFTER_WRITE: KindParams(0.3, 0.0, 30, cap=3.0),
        K.WRITE_BURST: KindParams(0.5, 0.0, 7, cap=2.0),
        K.NEAR_DUPLICATE_FLOOD: KindParams(1.0, 1.5, 30, discount=0.10, cap=20.0),
        K.FEEDBACK_WRONG: KindParams(1.5, 2.0, 90, discount=0.05),
        # negative: severe (also discount earlier positive history) -------------------------
        K.CONTRADICTS_TRUSTED: KindParams(3.0, 10.0, 180, discount=0.15),  # v2: 5 -> 10 on the memory
        K.QUERY_STUFFING: KindParams(4.0, 6.0, 180, discount=0.20),
        K.ANSWER_PLANTING: KindParams(3.0, 8.0, 365, discount=0.15),
        K.SELF_CORROBORATION_ATTEMPT: KindParams(2.0, 2.0, 180, discount=0.10),
        K.FEEDBACK_HARMFUL: KindParams(4.0, 6.0, 365, discount=0.25),
        K.INJECTION_PATTERN: KindParams(4.0, 10.0, 365, discount=0.20),
        K.HIDDEN_UNICODE: KindParams(4.0, 10.0, 365, discount=0.20),
        K.TRIGGER_INSTRUCTION: KindParams(4.0, 10.0, 365, discount=0.20),
        K.OPERATOR_FLAG: KindParams(20.0, 20.0, 3650, discount=1.0),
    }
)


@dataclass(frozen=True)
class TrustParams:
    # ---- Beta prior of an agent: Beta(1, 1) = "no idea", mean 0.5 ----------------------------
    prior_alpha: float = 1.0
    prior_beta: float = 1.0
    kinds: Mapping[K, KindParams] = field(default_factory=lambda: DEFAULT_KINDS, hash=False)

    # ---- fresh agents: positive pseudo-counts allowed = min(max_alpha, fresh + per_day*age) --
    fresh_alpha_cap: float = 1.0  # day 0: mean <= 2/3 however much good evidence
    alpha_cap_per_day: float = 12.0  # ~1.5 days of good standing to reach mean 0.95
    max_alpha: float = 50.0  # mean <= 0.98; keeps a long honest past from shielding a sleeper

    # ---- who may vouch (Sybil resistance) -----------------------------------------------------
    establish_age_days: float = 1.0  # a source's positive evidence ramps in over its first day
    established_trust: float = 0.7  # corroborations count only from sources at/above this
    source_floor: float = 0.3  # feedback from sources at/below this trust counts zero
    cohort_window_s: float = 3600.0  # agents created this close together are one cohort
    per_source_cap_agent: float = 3.0  # pseudo-counts one source can move one agent, per sign
    per_source_cap_memory: float = 2.0  # ... one memory, per sign (one corroboration)
    per_source_discount_cap: float = 0.30  # total fraction of positive history one source can erase
    unknown_source_reliability: float = 0.0  # agent-sourced evidence from an agent we know nothing of

    # ---- memories -----------------------------------------------------------------------------
    inherit_strength: float = 8.0  # pseudo-counts of the author's *current* trust in a memory's prior
    memory_prior_floor: float = 0.1  # keeps Beta proper when the author's trust is 0 or 1
    probation_days: float = 0.25  # a write becomes ACCEPTED_WRITE after 6 h with no negative evidence

    # ---- ranking and quarantine ---------------------------------------------------------------
    quarantine_below: float = 0.25  # memory (or agent) mean trust under this: hidden from recall
    rank_full_trust: float = 0.5  # at/above (no evidence against it): relevance untouched; a newcomer is not a suspect
    rank_zero_trust: float = 0.25  # at/below: relevance * rank_floor
    rank_floor: float = 0.05
    lower_bound_z: float = 1.645  # one-sided 95% normal approximation of the Beta's lower tail
    future_skew_s: float = 300.0  # evidence dated later than now + skew is ignored

    # ---- trust v2 tiers (memoryd.trust.tiers): weak signals only nudge ranking --------------
    behaviour_per_unit: float = 0.02  # ranking penalty per pseudo-count of behaviour-tier evidence
    behaviour_max_penalty: float = 0.15  # behaviour evidence never costs more than 15 % of relevance
    # an author's standing quarantines its memories *without* content evidence of their own only
    # when it has at least this many memories with content evidence, making up this share of its writes
    quarantine_min_bad: int = 3
    quarantine_bad_share: float = 0.2
    # request-local: a hit that poses this very query as a question and answers it (PoisonedRAG)
    # keeps this share of its relevance in *that* request; nothing is recorded about its author
    recall_stuffing_floor: float = 0.1

    def __post_init__(self) -> None:
        missing = [k.value for k in K if k not in self.kinds]
        if missing:
            raise ValueError(f"TrustParams.kinds lacks {missing}")
        if not (0.0 <= self.rank_zero_trust < self.rank_full_trust <= 1.0):
            raise ValueError("need 0 <= rank_zero_trust < rank_full_trust <= 1")
        if not (0.0 <= self.behaviour_max_penalty < 1.0 and 0.0 <= self.recall_stuffing_floor <= 1.0):
            raise ValueError("behaviour_max_penalty must be in [0, 1) and recall_stuffing_floor in [0, 1]")
        if self.prior_alpha <= 0 or self.prior_beta <= 0 or self.inherit_strength <= 0:
            raise ValueError("priors and inherit_strength must be positive")
        for k, kp in self.kinds.items():
            if min(kp.agent_weight, kp.memory_weight, kp.discount, kp.cap) < 0 or kp.half_life_days <= 0:
                raise ValueError(f"bad parameters for {k.value}")
            if kp.discount > 1.0:
                raise ValueError(f"discount of {k.value} must be <= 1")


DEFAULT_PARAMS = TrustParams()
