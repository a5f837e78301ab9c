"""Write-pattern and cross-memory signals (pure): statistics in, :class:`Signal` out.

The service computes the statistics (its own clock, the embedder's cosines, the trusted
neighbours it found); these functions only decide what they mean.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from . import _patterns as P
from .evidence import EvidenceKind as K
from .signals import DEFAULT_DETECT, EMPTY, DetectParams, Signal

__all__ = ["write_burst", "near_duplicate_flood", "deleted_soon", "value_conflict"]


def write_burst(write_times: Iterable[float], now: float, params: DetectParams = DEFAULT_DETECT) -> Signal:
    """The author's writes in the last ``burst_window_s`` (including this one): 0 up to
    ``burst_limit``, rising linearly to 1 at four times the limit. Skip for operator imports."""
    lo = now - params.burst_window_s
    n = sum(1 for t in write_times if lo < t <= now)
    if n <= params.burst_limit:
        return EMPTY[K.WRITE_BURST]
    score = min(1.0, (n - params.burst_limit) / (3.0 * params.burst_limit))
    why = f"{n} writes in {params.burst_window_s:g}s (limit {params.burst_limit})"
    return Signal(K.WRITE_BURST, round(score, 6), (why,), ("write_burst",))


def near_duplicate_flood(similarities: Iterable[float], params: DetectParams = DEFAULT_DETECT) -> Signal:
    """Cosine similarities of a new memory to the author's (or its cohort's) recent memories:
    one close neighbour is normal, ``near_dup_min`` or more is a flood."""
    n = sum(1 for s in similarities if math.isfinite(s) and s >= params.near_dup_sim)
    if n < params.near_dup_min:
        return EMPTY[K.NEAR_DUPLICATE_FLOOD]
    score = min(1.0, 0.5 + 0.25 * (n - params.near_dup_min))
    why = f"{n} recent memories with similarity >= {params.near_dup_sim:g}"
    return Signal(K.NEAR_DUPLICATE_FLOOD, score, (why,), ("near_duplicate_flood",))


def deleted_soon(
    written_at: float, deleted_at: float, *, by_author: bool, params: DetectParams = DEFAULT_DETECT
) -> Signal:
    """Hit-and-run: the author removed its own memory within ``delete_soon_s`` of writing it.
    Deletion by anyone else says nothing about the author. Weak on purpose (deleting is a right)."""
    age = deleted_at - written_at
    if not by_author or not math.isfinite(age) or age > params.delete_soon_s:
        return EMPTY[K.DELETED_SOON_AFTER_WRITE]
    score = 1.0 - 0.5 * max(0.0, age) / params.delete_soon_s  # 1.0 at once, 0.5 at the limit
    return Signal(
        K.DELETED_SOON_AFTER_WRITE, round(score, 6), (f"deleted {age:.0f}s after writing",), ("deleted_soon",)
    )


# numbers, versions, ports, factors (12x), Capitalised names, identifiers with separators, `code`
_VALUE = re.compile(r"`[^`\n]{1,80}`|\b\d+(?:[.:]\d+)*x?\b|\b[A-Z][\w-]*\b|\b[a-z0-9]+(?:[_\-/.][a-z0-9]+)+\b")


def _values(text: str) -> set[str]:
    out = set()
    for v in _VALUE.findall(text):
        v = v.strip("`").lower()
        if v not in P.STOP:
            out.add(v)
    return out


def _content(text: str) -> set[str]:
    return {t for t in P.WORD.findall(text.lower()) if t not in P.STOP and len(t) > 1}


def value_conflict(
    new_text: str,
    trusted_text: str,
    similarity: float,
    query: str | None = None,
    params: DetectParams = DEFAULT_DETECT,
) -> Signal:
    """The new memory talks about the same thing as a trusted one but swaps its values
    (a port, a name, a version): evidence for CONTRADICTS_TRUSTED against the new one.

    ``similarity`` is the embedder cosine of the two. With the ``query`` both answer
    (recall time), its words anchor the subject: both texts must contain most of its words
    and every value it names, and values that are part of the query are not compared (0.8). Without a query, the two must share
    a value and most other words, and exactly one of the trusted values must be replaced
    (0.45: notes written from one template about different subjects look alike).
    Call it only against trusted memories of *other, independent* authors: an agent
    updating its own note is not contradicting anyone.
    """
    if not math.isfinite(similarity) or similarity < params.conflict_sim:
        return EMPTY[K.CONTRADICTS_TRUSTED]
    vn, vt = _values(new_text), _values(trusted_text)
    cn, ct = _content(new_text), _content(trusted_text)
    if query is not None:
        q_words, q_values = _content(query), _values(query)
        anchor = q_words | q_values
        need = max(1, math.ceil(params.conflict_anchor * len(q_words)))
        for values, words in ((vn, cn), (vt, ct)):
            if len(q_words & words) < need or not q_values <= (values | words):
                return EMPTY[K.CONTRADICTS_TRUSTED]  # does not answer this query (every query value named)
        base, pattern = 0.8, "query_anchored"
    else:
        anchor = vn & vt
        words_n, words_t = cn - vn, ct - vt
        overlap = len(words_n & words_t) / max(1, min(len(words_n), len(words_t)))
        if not anchor or overlap < params.conflict_context:
            return EMPTY[K.CONTRADICTS_TRUSTED]
        base, pattern = 0.45, "shared_subject"
    added, dropped = vn - vt - anchor, vt - vn - anchor
    if not added or not dropped:
        return EMPTY[K.CONTRADICTS_TRUSTED]  # pure additions or omissions are not contradictions
    if query is None and len(dropped) > 1:
        return EMPTY[K.CONTRADICTS_TRUSTED]  # several values differ: more likely another subject
    why = f"same subject as a trusted memory with {len(added)} different and {len(dropped)} missing values"
    return Signal(K.CONTRADICTS_TRUSTED, base, (why,), (pattern,))
