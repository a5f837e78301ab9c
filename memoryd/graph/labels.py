"""Community labels from the most distinctive terms of their *current* members.

Class-based TF-IDF: all member texts of a community form one "class
document", and a term scores

    w(t, c) = df(t, c) / n(c) * log((N + 1) / df(t))

where ``df(t, c)`` counts the members of ``c`` that contain ``t`` (binary per
memory, so one long memory cannot dominate), ``n(c)`` is the member count,
``df(t)`` the count over all communities and ``N`` the total member count. A
term in every memory scores ~0; a term most members of ``c`` share and few
memories elsewhere use scores highest. Ties break alphabetically.

Labels are a pure function of the texts passed in: nothing is cached, so when a
memory is erased and labels are recomputed from the remaining members, its
words are gone from every label.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

from memoryd.graph._lexicon import COMMON_WORDS

__all__ = ["tokenize", "community_terms", "label_communities", "texts_by_community", "terms_against"]

_TOKEN = re.compile(r"[a-z][a-z0-9_]*(?:[.\-][a-z0-9_]+)*")


def tokenize(text: str) -> list[str]:
    """Lowercase content terms: >= 3 chars, not a stop/common word; keeps
    ``snake_case``, ``dotted.names`` and ``hyphen-words`` whole."""
    return [
        t
        for t in _TOKEN.findall(text.lower())
        if len(t) >= 3 and t not in COMMON_WORDS
    ]


def community_terms(
    texts_by_community: Mapping[int, Sequence[str]],
    top_n: int = 3,
    max_df_ratio: float = 0.5,
) -> dict[int, list[tuple[str, float]]]:
    """The ``top_n`` (term, c-TF-IDF score) pairs of each community, best first.

    With more than one community, terms found in more than ``max_df_ratio`` of
    all memories are never used: they describe the corpus, not a community.
    """
    counts: dict[int, Counter[str]] = {}
    sizes: dict[int, int] = {}
    for c, texts in texts_by_community.items():
        counter: Counter[str] = Counter()
        for text in texts:
            counter.update(set(tokenize(text)))
        counts[c] = counter
        sizes[c] = len(texts)
    overall: Counter[str] = Counter()
    for counter in counts.values():
        overall.update(counter)
    n_total = sum(sizes.values())
    max_df = max_df_ratio * n_total if len(counts) > 1 else float("inf")
    out: dict[int, list[tuple[str, float]]] = {}
    for c, counter in counts.items():
        scored = [
            (term, df / sizes[c] * math.log((n_total + 1) / overall[term]))
            for term, df in counter.items()
            if overall[term] <= max_df
        ]
        scored.sort(key=lambda ts: (-ts[1], ts[0]))
        out[c] = scored[:top_n]
    return out


def label_communities(
    texts_by_community: Mapping[int, Sequence[str]],
    top_n: int = 3,
    sep: str = ", ",
    max_df_ratio: float = 0.5,
) -> dict[int, str]:
    """A short label per community: its ``top_n`` most distinctive terms joined by ``sep``.

    ``texts_by_community`` must hold the texts of the current members only;
    a community with no usable terms gets ``""``.
    """
    return {
        c: sep.join(term for term, _ in terms)
        for c, terms in community_terms(texts_by_community, top_n, max_df_ratio).items()
    }


def texts_by_community(
    membership: Mapping[str, int], texts: Mapping[str, str]
) -> dict[int, list[str]]:
    """Group memory texts by community (memories missing from ``texts`` are skipped)."""
    out: dict[int, list[str]] = {}
    for mid, c in membership.items():
        text = texts.get(mid)
        if text is not None:
            out.setdefault(c, []).append(text)
    return out


def terms_against(
    member_texts: Mapping[int, Sequence[str]], df: Mapping[str, int], n_total: int, top_n: int,
    max_df_ratio: float = 0.5,
) -> dict[int, list[tuple[str, float]]]:
    """c-TF-IDF terms of *some* communities, scored against corpus-wide document
    frequencies ``df`` over ``n_total`` memories (e.g. kept up to date by a service), so
    one community can be relabelled without reading every other one.
    :func:`community_terms` scores against the given communities only."""
    out: dict[int, list[tuple[str, float]]] = {}
    max_df = max_df_ratio * n_total
    for c, texts in member_texts.items():
        counter: Counter[str] = Counter()
        for text in texts:
            counter.update(set(tokenize(text)))
        size = max(len(texts), 1)
        scored = [(t, k / size * math.log((n_total + 1) / max(df.get(t, k), k)))
                  for t, k in counter.items() if df.get(t, k) <= max_df or n_total < 4]
        scored.sort(key=lambda ts: (-ts[1], ts[0]))
        out[c] = scored[:top_n]
    return out
