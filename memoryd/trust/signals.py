"""What detectors return, and how a detection becomes evidence (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .evidence import Evidence, EvidenceKind, memory_and_agent

__all__ = [
    "DetectParams",
    "DEFAULT_DETECT",
    "Signal",
    "ContentReport",
    "EMPTY",
    "noisy_or",
    "make_signal",
    "report_evidence",
]


@dataclass(frozen=True)
class DetectParams:
    min_record_score: float = 0.2  # signals below this are reported but not recorded as evidence
    code_span_factor: float = 0.5  # format lookalikes inside `code` are documentation more often than attacks
    query_min_tokens: int = 3  # known queries shorter than this are not checked for verbatim copies
    question_min_content: int = 4  # content words a question needs before its restatement counts
    restate_threshold: float = 0.6  # share of the question's content words repeated in the assertion
    burst_window_s: float = 60.0
    burst_limit: int = 20  # writes per window before it counts as a burst (score 1 at 4x)
    near_dup_sim: float = 0.88  # cosine at which a new memory duplicates one of the author's recent ones
    near_dup_min: int = 2  # duplicates needed before it is a flood (score 0.5, 1.0 at min + 2)
    delete_soon_s: float = 3600.0  # an author deleting its own memory this fast is "hit and run"
    conflict_sim: float = 0.85  # cosine above which two memories are about the same thing
    conflict_anchor: float = 0.7  # share of the query's words both memories must contain
    conflict_context: float = 0.8  # without a query: share of non-value words they must share


DEFAULT_DETECT = DetectParams()


@dataclass(frozen=True)
class Signal:
    kind: EvidenceKind
    score: float  # 0 (nothing) .. 1 (certain)
    reasons: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()  # pattern ids that fired (safe to log)

    @property
    def hit(self) -> bool:
        return self.score > 0.0


@dataclass(frozen=True)
class ContentReport:
    signals: tuple[Signal, ...]  # only the ones that fired, strongest first

    @property
    def score(self) -> float:
        return max((s.score for s in self.signals), default=0.0)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r for s in self.signals for r in s.reasons)

    def get(self, kind: EvidenceKind) -> Signal:
        return next((s for s in self.signals if s.kind is kind), EMPTY[kind])


EMPTY = {k: Signal(k, 0.0) for k in EvidenceKind}  # shared "nothing found" results


def noisy_or(scores: Iterable[float]) -> float:
    p = 1.0
    for s in scores:
        p *= 1.0 - s
    return round(1.0 - p, 6)


def make_signal(kind: EvidenceKind, hits: dict[str, float], label: str) -> Signal:
    if not hits:
        return EMPTY[kind]
    names = tuple(sorted(hits, key=lambda n: -hits[n]))
    return Signal(kind, noisy_or(hits.values()), tuple(f"{label}: {n} ({hits[n]:.2f})" for n in names), names)


def report_evidence(
    signals: ContentReport | Iterable[Signal],
    *,
    memory_id: str,
    author_id: str,
    created_at: float,
    params: DetectParams = DEFAULT_DETECT,
) -> list[Evidence]:
    """Evidence rows (memory + author pairs) for every signal at or above ``min_record_score``.
    Details carry the detector, score and pattern ids only."""
    sigs = signals.signals if isinstance(signals, ContentReport) else tuple(signals)
    out: list[Evidence] = []
    for s in sigs:
        if s.score < params.min_record_score:
            continue
        details = {"detector": s.kind.value, "score": round(s.score, 4), "patterns": ",".join(s.patterns)[:120]}
        out.extend(
            memory_and_agent(
                s.kind,
                memory_id=memory_id,
                author_id=author_id,
                created_at=created_at,
                strength=s.score,
                details=details,
            )
        )
    return out
