"""The pure core of provenance trust and memory-poisoning defence.

Reading order:

* :mod:`~memoryd.trust.evidence`  what can be observed (kinds, polarity, the log record)
* :mod:`~memoryd.trust.params`    every weight, half-life and threshold (docs/trust.md says why)
* :mod:`~memoryd.trust.sources`   who may vouch for whom (Sybil rules)
* :mod:`~memoryd.trust.scoring`   Beta trust of agents and memories, ranking, quarantine
* :mod:`~memoryd.trust.detect`    content signals (injection, hidden unicode, triggers, answer
  planting, query stuffing); re-exports the write-pattern signals of ``writes`` and the
  :class:`Signal` types of ``signals``
* :mod:`~memoryd.trust.chain`     keyed hash chain for append-only logs; key file
* :mod:`~memoryd.trust.screen`    what a write or a recall records, from the statistics the
  service gathers (imported from there, not re-exported)

No SQL, no clock, no configuration reads; only ``chain.load_or_create_key`` touches a file.
"""

from memoryd.trust import chain as _chain
from memoryd.trust import detect as _detect
from memoryd.trust.chain import (
    GENESIS_MAC,
    KEY_BYTES,
    ChainVerification,
    canonical_json,
    derive_key,
    load_or_create_key,
    seal,
    seal_all,
    verify_chain,
)
from memoryd.trust.detect import (
    DEFAULT_DETECT,
    ContentReport,
    DetectParams,
    Signal,
    answer_planting,
    deleted_soon,
    hidden_unicode,
    injection,
    near_duplicate_flood,
    query_stuffing,
    report_evidence,
    scan_content,
    trigger_instruction,
    value_conflict,
    write_burst,
)
from memoryd.trust.evidence import (
    AGENT_SOURCED_KINDS,
    POLARITY,
    Evidence,
    EvidenceKind,
    make_evidence,
    memory_and_agent,
)
from memoryd.trust.params import DEFAULT_KINDS, DEFAULT_PARAMS, KindParams, TrustParams
from memoryd.trust.scoring import (
    MemoryFacts,
    TrustScore,
    agent_trust,
    beta_score,
    combine_penalties,
    decay,
    memory_trust,
    probation_passed,
    quarantine_decision,
    rank_score,
    trust_multiplier,
)
from memoryd.trust.tiers import CONTENT_KINDS, WEAK_KINDS, is_content_evidence, tier
from memoryd.trust.sources import OPERATOR_KINDS, AgentFacts, SourceStanding, independent, is_established, source_reliability

__all__ = [
    # evidence
    "Evidence",
    "EvidenceKind",
    "POLARITY",
    "AGENT_SOURCED_KINDS",
    "make_evidence",
    "memory_and_agent",
    # params
    "TrustParams",
    "KindParams",
    "DEFAULT_PARAMS",
    "DEFAULT_KINDS",
    # scoring
    "AgentFacts",
    "SourceStanding",
    "MemoryFacts",
    "TrustScore",
    "agent_trust",
    "combine_penalties",
    "OPERATOR_KINDS",
    "tier",
    "is_content_evidence",
    "CONTENT_KINDS",
    "WEAK_KINDS",
    "memory_trust",
    "beta_score",
    "decay",
    "independent",
    "is_established",
    "source_reliability",
    "trust_multiplier",
    "rank_score",
    "quarantine_decision",
    "probation_passed",
]
__all__ += _detect.__all__
__all__ += _chain.__all__
