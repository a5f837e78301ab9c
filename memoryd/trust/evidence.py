"""Evidence: one observation that moves an agent's or a memory's trust up or down.

An :class:`Evidence` row is what the append-only evidence log stores (sealed by
:mod:`memoryd.trust.chain`). It never carries memory content: the log cannot be edited,
so anything written to it outlives an erasure. ``details`` therefore accepts only short
scalar values under keys that are not content-like (see :data:`FORBIDDEN_DETAIL_KEYS`):
detector names, pattern ids, counts, scores, similarities, other memory *ids*.

``weight`` is signed: ``+`` supports trust (adds to Beta alpha), ``-`` counts against
it (adds to beta). Its magnitude is the *strength* of this one observation in [0, 1]
(a detector's score, 1.0 for a plain event); how much a unit of each kind is worth lives
in :class:`~memoryd.trust.params.TrustParams`, not here, so re-weighting never needs a
log rewrite. The sign must match the kind's polarity (:data:`POLARITY`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal

from ..errors import ValidationError

__all__ = [
    "EvidenceKind",
    "SubjectType",
    "Evidence",
    "POLARITY",
    "AGENT_SOURCED_KINDS",
    "FORBIDDEN_DETAIL_KEYS",
    "MAX_DETAIL_CHARS",
    "make_evidence",
    "memory_and_agent",
]

SubjectType = Literal["agent", "memory"]
DetailValue = str | int | float | bool | None

MAX_DETAIL_ITEMS = 16
MAX_DETAIL_CHARS = 120  # long enough for ids, pattern names and numbers; too short for a note
FORBIDDEN_DETAIL_KEYS = frozenset(
    {"content", "text", "body", "snippet", "excerpt", "match", "matched", "quote", "query", "note", "prompt"}
)


class EvidenceKind(StrEnum):
    # ---- positive: adds to alpha ----------------------------------------------------------
    ACCEPTED_WRITE = "accepted_write"  # a memory passed probation with no negative evidence (server)
    FEEDBACK_USEFUL = "feedback_useful"  # another agent found the memory useful
    CORROBORATED = "corroborated"  # an independent agent wrote a near-duplicate of it
    OPERATOR_VOUCH = "operator_vouch"  # the operator (CLI) vouched for an agent or memory
    # ---- negative: adds to beta -----------------------------------------------------------
    FEEDBACK_WRONG = "feedback_wrong"
    FEEDBACK_HARMFUL = "feedback_harmful"
    CONTRADICTS_TRUSTED = "contradicts_trusted"  # same subject as a trusted memory, different values
    DELETED_SOON_AFTER_WRITE = "deleted_soon_after_write"  # hit-and-run: written, read, removed
    WRITE_BURST = "write_burst"
    NEAR_DUPLICATE_FLOOD = "near_duplicate_flood"
    INJECTION_PATTERN = "injection_pattern"
    HIDDEN_UNICODE = "hidden_unicode"
    TRIGGER_INSTRUCTION = "trigger_instruction"  # rare trigger phrase + instruction to the reader
    ANSWER_PLANTING = "answer_planting"  # "always answer X"
    QUERY_STUFFING = "query_stuffing"  # PoisonedRAG: copy of a question + an assertion
    SELF_CORROBORATION_ATTEMPT = "self_corroboration_attempt"  # own / same-cohort agents corroborating
    OPERATOR_FLAG = "operator_flag"  # the operator (CLI) marked an agent or memory bad


_POSITIVE = {
    EvidenceKind.ACCEPTED_WRITE,
    EvidenceKind.FEEDBACK_USEFUL,
    EvidenceKind.CORROBORATED,
    EvidenceKind.OPERATOR_VOUCH,
}
POLARITY: Mapping[EvidenceKind, int] = MappingProxyType({k: 1 if k in _POSITIVE else -1 for k in EvidenceKind})

# Evidence whose value depends on who produced it: weighted by the source agent's standing.
AGENT_SOURCED_KINDS = frozenset(
    {
        EvidenceKind.FEEDBACK_USEFUL,
        EvidenceKind.FEEDBACK_WRONG,
        EvidenceKind.FEEDBACK_HARMFUL,
        EvidenceKind.CORROBORATED,
    }
)


def _frozen_details(details: Mapping[str, Any] | None) -> Mapping[str, DetailValue]:
    if details is None:
        return MappingProxyType({})
    if not isinstance(details, Mapping):
        raise ValidationError("evidence details must be a mapping")
    if len(details) > MAX_DETAIL_ITEMS:
        raise ValidationError(f"evidence details hold at most {MAX_DETAIL_ITEMS} items")
    out: dict[str, DetailValue] = {}
    for k, v in details.items():
        if not isinstance(k, str) or not k or len(k) > 40:
            raise ValidationError(f"evidence detail key {k!r} must be a short string")
        if k.lower() in FORBIDDEN_DETAIL_KEYS:
            raise ValidationError(f"evidence details must not carry memory content (key {k!r})")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValidationError(f"evidence detail {k!r} is not finite")
        if isinstance(v, str) and len(v) > MAX_DETAIL_CHARS:
            raise ValidationError(f"evidence detail {k!r} is longer than {MAX_DETAIL_CHARS} characters")
        if v is not None and not isinstance(v, (str, int, float, bool)):
            raise ValidationError(f"evidence detail {k!r} must be a scalar, got {type(v).__name__}")
        out[k] = v
    return MappingProxyType(dict(sorted(out.items())))


@dataclass(frozen=True)
class Evidence:
    kind: EvidenceKind
    subject_type: SubjectType  # 'agent' | 'memory'
    subject_id: str  # agent id or memory id (never content)
    weight: float  # signed strength in [-1, 1]; sign == POLARITY[kind]
    source_agent_id: str | None  # who produced it; None: memoryd itself or the operator
    created_at: float  # epoch seconds, set by the server
    details: Mapping[str, DetailValue] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        try:
            kind = EvidenceKind(self.kind)
        except ValueError as exc:
            raise ValidationError(f"unknown evidence kind {self.kind!r}") from exc
        object.__setattr__(self, "kind", kind)
        if self.subject_type not in ("agent", "memory"):
            raise ValidationError(f"subject_type must be 'agent' or 'memory', got {self.subject_type!r}")
        if not isinstance(self.subject_id, str) or not self.subject_id:
            raise ValidationError("evidence needs a subject id")
        if self.source_agent_id is not None and (not isinstance(self.source_agent_id, str) or not self.source_agent_id):
            raise ValidationError("source_agent_id must be a non-empty string or None")
        w, t = float(self.weight), float(self.created_at)
        if not math.isfinite(w) or not -1.0 <= w <= 1.0:
            raise ValidationError(f"evidence weight must be finite and in [-1, 1], got {self.weight!r}")
        if w != 0.0 and (w > 0) != (POLARITY[kind] > 0):
            raise ValidationError(
                f"{kind.value} evidence must have a {'positive' if POLARITY[kind] > 0 else 'negative'} weight"
            )
        if not math.isfinite(t) or t < 0:
            raise ValidationError("created_at must be a finite epoch time")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "created_at", t)
        object.__setattr__(self, "details", _frozen_details(self.details))

    @property
    def strength(self) -> float:
        return abs(self.weight)

    def to_record(self) -> dict[str, Any]:
        """Plain JSON-able dict: what the log stores and :func:`~memoryd.trust.chain.seal` signs."""
        return {
            "kind": self.kind.value,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "weight": self.weight,
            "source_agent_id": self.source_agent_id,
            "created_at": self.created_at,
            "details": dict(self.details),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Evidence:
        try:
            return cls(
                kind=EvidenceKind(record["kind"]),
                subject_type=record["subject_type"],
                subject_id=record["subject_id"],
                weight=record["weight"],
                source_agent_id=record.get("source_agent_id"),
                created_at=record["created_at"],
                details=record.get("details") or {},
            )
        except KeyError as exc:
            raise ValidationError(f"evidence record lacks {exc.args[0]!r}") from exc


def make_evidence(
    kind: EvidenceKind | str,
    subject_type: SubjectType,
    subject_id: str,
    *,
    created_at: float,
    source_agent_id: str | None = None,
    strength: float = 1.0,
    details: Mapping[str, Any] | None = None,
) -> Evidence:
    """Evidence with the sign taken from the kind: callers give a strength in [0, 1]."""
    k = EvidenceKind(kind)
    s = min(1.0, max(0.0, float(strength)))
    return Evidence(k, subject_type, subject_id, POLARITY[k] * s, source_agent_id, created_at, details or {})


def memory_and_agent(
    kind: EvidenceKind | str, *, memory_id: str, author_id: str, **observed: Any
) -> tuple[Evidence, Evidence]:
    """The usual pair for something observed about one memory: the memory's own row and its
    author's row (which records the memory id, so an agent's record can be audited).
    ``observed``: the keywords of :func:`make_evidence` (``created_at``, ``source_agent_id``,
    ``strength``, ``details``), the same for both rows."""
    mem = make_evidence(kind, "memory", memory_id, **observed)
    agent_details = dict(mem.details)
    agent_details.setdefault("memory_id", memory_id)
    return mem, replace(mem, subject_type="agent", subject_id=author_id, details=agent_details)
