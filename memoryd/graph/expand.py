"""Graph-expanded retrieval: fuse graph neighbours of the top hits into the ranking.

Weighted reciprocal-rank fusion. A seed (an initial hit) at 0-based rank ``r``
scores ``1 / (rrf_k + r + 1)``. A neighbour reached from seed ``s`` over a link
of weight ``w`` in [0, 1] receives ``neighbour_fraction * w * score(s)``, summed
over every seed that reaches it. Seeds get nothing from each other, so their
relative order never changes. With ``neighbour_fraction <= 0.5`` a neighbour
reached from a single seed at rank ``r`` stays below every seed ranked within
``rrf_k + r`` places after it (in practice: below all seeds), while a memory
strongly linked to several seeds can climb above some of them.

The neighbour source is either a mapping ``memory id -> links`` (see
:func:`adjacency`, built from an in-memory :class:`MemoryGraph`) or a callable,
so a service can answer it from the store instead.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from memoryd.graph.memgraph import MemoryGraph

__all__ = [
    "Link",
    "Via",
    "ExpandedHit",
    "ExpandConfig",
    "NeighbourSource",
    "expand_hits",
    "adjacency",
    "ScoredExpandConfig",
    "ScoredHit",
    "expand_scored",
]

LinkKind = Literal["similar", "entity"]


@dataclass(frozen=True)
class Link:
    """An edge from some memory to ``id``: a similarity edge or a shared entity."""

    id: str
    weight: float  # in [0, 1]; clipped if outside
    kind: LinkKind = "similar"
    entity: str | None = None  # the shared entity key when kind == "entity"


@dataclass(frozen=True)
class Via:
    """Why an expanded hit is in the list: which seed reached it, and over what."""

    seed: str
    kind: LinkKind
    weight: float
    entity: str | None = None


@dataclass(frozen=True)
class ExpandedHit:
    id: str
    score: float  # fused score; the list is sorted by it
    seed_rank: int | None  # 0-based rank in the initial hits, None if pulled in by the graph
    base_score: float | None  # the initial retrieval score of a seed
    via: tuple[Via, ...] = ()  # for pulled-in hits: the seeds and links, strongest first

    @property
    def is_seed(self) -> bool:
        return self.seed_rank is not None


@dataclass(frozen=True)
class ExpandConfig:
    rrf_k: float = 60.0  # RRF constant: larger flattens the rank curve
    neighbour_fraction: float = 0.5  # share of a seed's fused score passed to a neighbour at w=1
    max_seeds: int = 10  # only the top seeds are expanded
    max_neighbours_per_seed: int = 5  # strongest links followed from each seed
    min_link_weight: float = 0.0  # links weaker than this are ignored
    limit: int | None = None  # truncate the fused list (None: keep all)


NeighbourSource = Mapping[str, Sequence[Link]] | Callable[[str], Iterable[Link]]


def _links_of(source: NeighbourSource, mid: str) -> Iterable[Link]:
    if isinstance(source, Mapping):
        return source.get(mid, ())
    return source(mid)


def expand_hits(
    hits: Sequence[tuple[str, float]],
    neighbours: NeighbourSource,
    config: ExpandConfig = ExpandConfig(),
) -> list[ExpandedHit]:
    """Fuse graph neighbours of the top ``hits`` into the ranking.

    Args:
        hits: initial ranked hits ``(memory id, score)``, best first (scores are
            carried through as ``base_score``; only the order is used).
        neighbours: memory id -> its links (mapping or callable).
        config: fusion parameters.

    Returns:
        Seeds and pulled-in neighbours, sorted by fused score (ties: seeds
        first, then by seed rank, then id).
    """
    seed_rank: dict[str, int] = {}
    base: dict[str, float] = {}
    for mid, score in hits:
        if mid not in seed_rank:
            seed_rank[mid] = len(seed_rank)
            base[mid] = float(score)
    fused = {mid: 1.0 / (config.rrf_k + r + 1) for mid, r in seed_rank.items()}

    gained: dict[str, float] = {}
    vias: dict[str, list[Via]] = {}
    for mid, r in seed_rank.items():
        if r >= config.max_seeds:
            break
        best: dict[str, float] = {}  # neighbour -> strongest link weight from this seed
        links: dict[str, list[Link]] = {}
        for link in _links_of(neighbours, mid):
            w = min(max(float(link.weight), 0.0), 1.0)
            if link.id == mid or link.id in seed_rank or w < config.min_link_weight or w == 0.0:
                continue
            best[link.id] = max(best.get(link.id, 0.0), w)
            links.setdefault(link.id, []).append(link)
        top = sorted(best, key=lambda n: (-best[n], n))[: config.max_neighbours_per_seed]
        for n in top:
            gained[n] = gained.get(n, 0.0) + config.neighbour_fraction * best[n] * fused[mid]
            for link in links[n]:
                vias.setdefault(n, []).append(
                    Via(seed=mid, kind=link.kind, weight=min(max(link.weight, 0.0), 1.0), entity=link.entity)
                )

    out = [
        ExpandedHit(id=mid, score=fused[mid], seed_rank=r, base_score=base[mid])
        for mid, r in seed_rank.items()
    ]
    out += [
        ExpandedHit(
            id=n,
            score=s,
            seed_rank=None,
            base_score=None,
            via=tuple(sorted(vias[n], key=lambda v: (-v.weight, v.seed, v.entity or ""))),
        )
        for n, s in gained.items()
    ]
    out.sort(key=lambda h: (-h.score, h.seed_rank is None, h.seed_rank or 0, h.id))
    return out[: config.limit] if config.limit is not None else out


def adjacency(
    graph: MemoryGraph,
    members: Mapping[str, Sequence[str]] | None = None,
    *,
    entity_link_weight: float = 0.5,
    max_entity_members: int = 50,
) -> dict[str, list[Link]]:
    """Neighbour lists from an in-memory graph: similarity edges plus entity links.

    Args:
        graph: similarity edges (``graph.similarity > 0``) become ``"similar"`` links.
        members: entity key -> memory ids (:func:`memoryd.graph.memgraph.entity_members`);
            each pair of memories sharing an entity with at most
            ``max_entity_members`` members gets an ``"entity"`` link naming it.
        entity_link_weight: weight of one entity link.
    """
    adj: dict[str, list[Link]] = {mid: [] for mid in graph.ids}
    ids = graph.ids
    sim_idx = np.flatnonzero(graph.similarity > 0)
    for a, b, w in zip(graph.src[sim_idx].tolist(), graph.dst[sim_idx].tolist(),
                       graph.similarity[sim_idx].tolist()):
        adj[ids[a]].append(Link(ids[b], w, "similar"))
        adj[ids[b]].append(Link(ids[a], w, "similar"))
    for key, mids in (members or {}).items():
        present = [m for m in mids if m in adj]
        if len(present) < 2 or len(present) > max_entity_members:
            continue
        for m in present:
            adj[m].extend(Link(o, entity_link_weight, "entity", key) for o in present if o != m)
    return adj


# ---- score-based expansion (what recall uses) -----------------------------------------------
@dataclass(frozen=True)
class ScoredExpandConfig:
    """Expansion over fused *scores* (recall's relative score fusion), not ranks.

    A seed in the top ``max_seeds`` passes ``fraction * w * score(seed)`` to each of its
    ``max_neighbours_per_seed`` strongest links (``w`` in [0, 1]); a memory reached from
    several seeds keeps its best gain (``combine="max"``: a memory close to every seed is
    a look-alike the retrieval legs already scored) or their sum, capped at
    ``fraction * top score``. Seeds receive nothing, so
    their order never changes; a lower-ranked candidate or a memory pulled in by the
    graph rises above a seed only when a strong link to a much better seed carries it
    there (score gaps matter, unlike RRF where rank 1 and rank 5 differ by 6%).
    """

    fraction: float = 0.5
    max_seeds: int = 5
    max_neighbours_per_seed: int = 5
    min_link_weight: float = 0.2
    combine: Literal["max", "sum"] = "max"  # a memory reached from several seeds: best gain, or summed
    limit: int | None = None


@dataclass(frozen=True)
class ScoredHit:
    id: Hashable
    score: float
    base_score: float  # 0 for a memory the graph pulled in
    gain: float  # what the graph added
    seed_rank: int | None  # 0-based rank among the initial hits, None if pulled in
    via: tuple[Via, ...] = ()


def expand_scored(
    hits: Sequence[tuple[Hashable, float]],
    neighbours: NeighbourSource,
    config: ScoredExpandConfig = ScoredExpandConfig(),
) -> list[ScoredHit]:
    """Fuse graph neighbours of the top hits into a scored ranking (see :class:`ScoredExpandConfig`).

    Returns every initial hit and every memory reached, sorted by fused score (ties:
    initial hits first, by rank, then pulled-in ones by id).
    """
    rank: dict[Hashable, int] = {}
    base: dict[Hashable, float] = {}
    for mid, s in hits:
        if mid not in rank:
            rank[mid], base[mid] = len(rank), max(float(s), 0.0)
    seeds = [mid for mid, r in rank.items() if r < config.max_seeds]
    top = max((base[m] for m in seeds), default=0.0)
    gain: dict[Hashable, float] = {}
    vias: dict[Hashable, list[Via]] = {}
    seed_set = set(seeds)
    for s in seeds:
        best: dict[Hashable, float] = {}
        links: dict[Hashable, list[Link]] = {}
        for link in _links_of(neighbours, s):  # type: ignore[arg-type]
            w = min(max(float(link.weight), 0.0), 1.0)
            if link.id in seed_set or w < config.min_link_weight or w == 0.0:
                continue
            best[link.id] = max(best.get(link.id, 0.0), w)
            links.setdefault(link.id, []).append(link)
        for n in sorted(best, key=lambda n: (-best[n], str(n)))[: config.max_neighbours_per_seed]:
            g = config.fraction * best[n] * base[s]
            gain[n] = gain.get(n, 0.0) + g if config.combine == "sum" else max(gain.get(n, 0.0), g)
            vias.setdefault(n, []).extend(
                Via(seed=str(s), kind=lk.kind, weight=min(max(lk.weight, 0.0), 1.0), entity=lk.entity)
                for lk in links[n])
    cap = config.fraction * top
    out = [ScoredHit(m, base[m] + min(gain.get(m, 0.0), cap), base[m], min(gain.get(m, 0.0), cap), r,
                     tuple(sorted(vias.get(m, ()), key=lambda v: (-v.weight, v.seed, v.entity or ""))))
           for m, r in rank.items()]
    out += [ScoredHit(n, min(g, cap), 0.0, min(g, cap), None,
                      tuple(sorted(vias[n], key=lambda v: (-v.weight, v.seed, v.entity or ""))))
            for n, g in gain.items() if n not in rank]
    out.sort(key=lambda h: (-h.score, h.seed_rank is None, h.seed_rank or 0, str(h.id)))
    return out[: config.limit] if config.limit is not None else out
