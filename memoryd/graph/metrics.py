"""How well communities match known topic labels: purity, NMI, ARI.

Only memories present in both mappings are scored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import igraph as ig

__all__ = ["CommunityScores", "purity", "nmi", "score_communities"]


@dataclass(frozen=True)
class CommunityScores:
    n: int  # memories scored
    n_communities: int
    n_topics: int
    purity: float  # share of memories whose community's majority topic is their topic
    nmi: float  # normalised mutual information, 0..1
    ari: float  # adjusted Rand index, ~0 for random, 1 for identical


def _aligned(
    membership: Mapping[str, int], truth: Mapping[str, Hashable]
) -> tuple[list[int], list[int]]:
    ids = sorted(set(membership) & set(truth))
    codes: dict[Hashable, int] = {}
    comm_codes: dict[int, int] = {}
    pred = [comm_codes.setdefault(membership[i], len(comm_codes)) for i in ids]
    gold = [codes.setdefault(truth[i], len(codes)) for i in ids]
    return pred, gold


def purity(membership: Mapping[str, int], truth: Mapping[str, Hashable]) -> float:
    """Sum over communities of their majority-topic count, divided by memories scored."""
    pred, gold = _aligned(membership, truth)
    if not pred:
        return 0.0
    per: dict[int, Counter[int]] = {}
    for p, g in zip(pred, gold):
        per.setdefault(p, Counter())[g] += 1
    return sum(c.most_common(1)[0][1] for c in per.values()) / len(pred)


def nmi(membership: Mapping[str, int], truth: Mapping[str, Hashable]) -> float:
    """Normalised mutual information (igraph ``compare_communities(method="nmi")``)."""
    pred, gold = _aligned(membership, truth)
    if not pred:
        return 0.0
    if len(set(pred)) == 1 and len(set(gold)) == 1:
        return 1.0
    return float(ig.compare_communities(pred, gold, method="nmi"))


def score_communities(
    membership: Mapping[str, int], truth: Mapping[str, Hashable]
) -> CommunityScores:
    """Purity, NMI and ARI of ``membership`` against ``truth`` (memory id -> topic)."""
    pred, gold = _aligned(membership, truth)
    ari = (
        float(ig.compare_communities(pred, gold, method="adjusted_rand"))
        if len(pred) > 1
        else 0.0
    )
    return CommunityScores(
        n=len(pred),
        n_communities=len(set(pred)),
        n_topics=len(set(gold)),
        purity=purity(membership, truth),
        nmi=nmi(membership, truth),
        ari=ari,
    )
