"""What trust records when a memory is written or recalled (pure decisions).

The service gathers the statistics (write times, cosines to the author's and its cohort's
recent memories, the nearest memories of other authors with their trust) and these
functions turn them into :class:`~memoryd.trust.Evidence`, following docs/trust.md
("Integrating"). Memories are named by their mref; nothing here copies text into evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .detect import query_stuffing, scan_content
from .evidence import Evidence, memory_and_agent
from .params import TrustParams
from .signals import DetectParams, report_evidence
from .sources import AgentFacts, independent
from .writes import near_duplicate_flood, value_conflict, write_burst

__all__ = ["Neighbour", "ScreenParams", "screen_write", "recall_stuffing", "question_like"]


@dataclass(frozen=True)
class ScreenParams:
    recent_own: int = 100  # the author's recent memories compared for near-duplicate floods
    recent_cohort: int = 100  # ... and its cohort's (agents created within cohort_window_s)
    neighbours: int = 3  # nearest memories of other authors checked for conflict/corroboration
    neighbour_scan: int = 32  # extra hits searched past the author's own near-copies to find them
    trusted_neighbour: float = 0.8  # a neighbour must be trusted this much to be contradicted
    corroborate_sim: float = 0.95  # cosine at which a memory restates another one
    recall_candidates: int = 50  # hits checked for (request-local) query stuffing at recall
    # share of an unanchored contradiction (0.45) that also counts against the author: 0, because
    # same-template honest notes about other subjects trip it (~1 % of honest writes in the bench,
    # honest agents' mean trust 0.92 -> 0.875 at 0.5) and it barely moved sleepers
    unanchored_agent: float = 0.0


DEFAULT_SCREEN = ScreenParams()


@dataclass(frozen=True)
class Neighbour:
    """A memory of another author near the new one (cosine from the vector index)."""

    mref: str
    author: AgentFacts
    content: str
    similarity: float
    trust: float  # its current memory trust


def screen_write(
    *,
    content: str,
    mref: str,
    writer: AgentFacts,
    now: float,
    write_times: Sequence[float] | None,
    recent_similarities: np.ndarray | None,
    neighbours: Sequence[Neighbour],
    params: TrustParams,
    detect: DetectParams,
    screen: ScreenParams = DEFAULT_SCREEN,
) -> list[Evidence]:
    """Evidence for one new memory. ``write_times`` / ``recent_similarities`` None: not an
    interactive write (a bulk import by the operator), so no burst or near-duplicate check;
    content detectors and conflict/corroboration still run."""
    author = writer.agent_id
    out = report_evidence(scan_content(content, params=detect), memory_id=mref, author_id=author, created_at=now, params=detect)
    signals = []
    if write_times is not None:
        signals.append(write_burst(write_times, now, detect))
    if recent_similarities is not None:
        signals.append(near_duplicate_flood(recent_similarities.tolist(), detect))
    out += report_evidence(signals, memory_id=mref, author_id=author, created_at=now, params=detect)
    out += _conflicts(content, mref, writer, now, neighbours, params, detect, screen)
    return out


# "<question>? <answer>" / "Q: <question>? A: <answer>"
_LEADING_QUESTION = re.compile(r"\s*(?:q\s*:\s*)?([^?\n]{8,300})\?\s*(?:a\s*:\s*)?", re.IGNORECASE)
# "Regarding '<what/which/how ... clause>': <answer>" / "<how ... clause>. <answer>"
_LEADING_CLAUSE = re.compile(
    r"\s*(?:(?:re|regarding|about)\s*:?\s*)?[\"'\u2018\u201c]?"
    r"((?:what|which|who|whom|whose|when|where|why|how)\b[^\n:]{4,300}?)[\"'\u2019\u201d]?\s*(?::|\.\s)\s*",
    re.IGNORECASE,
)


def leading_question(content: str) -> tuple[str, str] | None:
    """(question, the rest) when a memory opens with a question it then answers, as
    PoisonedRAG's copies do; the rest is what the memory asserts."""
    for pattern in (_LEADING_QUESTION, _LEADING_CLAUSE):
        m = pattern.match(content)
        if m and content[m.end():].strip():
            return m.group(1), content[m.end():]
    return None


def _conflicts(content, mref, writer, now, neighbours, params, detect, screen) -> list[Evidence]:
    """Contradiction with the nearest trusted memory of an independent author, or
    corroboration of the nearest memory of another author.

    A memory that opens with a question (PoisonedRAG: question + planted answer) has what
    follows the question checked, with that question as the anchor (``value_conflict(..., query)``, precise: 0.8) and the
    evidence goes to the memory and its author. Without an anchor the check is weak (0.45;
    notes written from one template about different subjects look alike): it counts in
    full against the memory and ``unanchored_agent`` of it (0 by default) against the author."""
    author = writer.agent_id
    lead = leading_question(content)
    # the question part asserts nothing: compare what the memory claims (it may repeat the
    # question's values, e.g. the identifier a look-up names, which the answer must not hide)
    anchor, claim = lead if lead else (None, content)
    out: list[Evidence] = []
    corroborated = False
    for nb in neighbours:
        if nb.author.agent_id == author or nb.similarity < detect.conflict_sim:
            continue  # an agent updating its own note contradicts nobody
        conflict, anchored = None, False
        if nb.trust >= screen.trusted_neighbour and independent(writer, nb.author, params):
            if anchor is not None:
                conflict = value_conflict(claim, nb.content, nb.similarity, anchor, detect)
                anchored = conflict.hit
            if not anchored:
                conflict = value_conflict(claim, nb.content, nb.similarity, None, detect)
        if conflict is not None and conflict.score >= detect.min_record_score:
            details = {"detector": conflict.kind.value, "score": round(conflict.score, 4), "anchored": anchored,
                       "other_mref": nb.mref, "similarity": round(nb.similarity, 4)}
            pair = memory_and_agent(conflict.kind, memory_id=mref, author_id=author, created_at=now,
                                    strength=conflict.score, details=details)
            out.append(pair[0])
            # the author: in full when the memory's own question anchors the subject, scaled
            # down without an anchor (same-template notes about other subjects look alike)
            factor = 1.0 if anchored else screen.unanchored_agent
            if factor > 0:
                out += memory_and_agent(conflict.kind, memory_id=mref, author_id=author, created_at=now,
                                        strength=conflict.score * factor, details=details)[1:]
            break
        if not corroborated and nb.similarity >= screen.corroborate_sim:
            # scoring counts it only if the writer is independent of the author and established
            out += memory_and_agent(
                "corroborated", memory_id=nb.mref, author_id=nb.author.agent_id, created_at=now,
                source_agent_id=author, details={"by_mref": mref, "similarity": round(nb.similarity, 4)},
            )
            corroborated = True
    return out


_QWORDS = frozenset(
    "what which who whom whose when where why how is are was were do does did can could should would will "
    "shall may might has have had".split()
)
_WORD = re.compile(r"[A-Za-z0-9]+")
_QUERY_TOKEN = re.compile(r"[a-z0-9]+")


def question_like(query: str, detect: DetectParams) -> bool:
    """A question (PoisonedRAG's target) rather than a pasted snippet of a note: a pasted
    snippet is contained in its own note verbatim and must not make that note look stuffed."""
    words = _WORD.findall(query.lower())
    if len(words) < detect.query_min_tokens:
        return False
    return query.rstrip().endswith("?") or words[0] in _QWORDS


def _posed_unit(tokens: list[str]) -> re.Pattern[str]:
    """The query's words in order, closed by punctuation (? : . ; quotes) and followed by more
    text: the memory states the query as a unit and then answers it ("Q? A", "Regarding 'Q':
    A", "Q. Current answer: A"). A reader quoting the first words of a note is followed by
    the rest of that sentence instead; a reader asking a whole note back has nothing after it."""
    return re.compile(r"[\W_]+".join(map(re.escape, tokens)) + r"\s*[?:.;!'\"\u2019\u201d)\]]+\s*\w", re.IGNORECASE)


def recall_stuffing(
    query: str,
    candidates: Sequence[tuple[str, str]],
    detect: DetectParams,
) -> dict[str, float]:
    """(key, content) of recall candidates -> {key: strength} for those that state this query
    as a unit and then answer it (PoisonedRAG: question + planted answer), for this one request.

    Nothing is recorded: a query that resembles a memory says nothing about its author (a
    reader quoting a note, or a reader trying to silence its author, would otherwise move the
    author's trust). A note quoted by a reader ("The billing service listens on?", the note
    without its last word, the whole note + "?") does not match (``_posed_unit``)."""
    tokens = _QUERY_TOKEN.findall(query.lower())
    if len(tokens) < detect.query_min_tokens:
        return {}
    posed = _posed_unit(tokens)
    q_words = set(tokens)
    out: dict[str, float] = {}
    for key, content in candidates:
        low = content.lower()
        if not all(w in low for w in q_words):
            continue  # cannot contain the query verbatim (cheap test before the detector)
        if not posed.search(content):
            continue
        with_q = query_stuffing(content, [query], detect)
        if "contains_query" not in with_q.patterns:
            continue
        if with_q.score >= detect.min_record_score:
            out[key] = with_q.score
    return out
