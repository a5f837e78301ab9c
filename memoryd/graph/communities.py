"""Leiden communities over the memory graph, and incremental assignment of a new memory.

:func:`cluster` runs igraph's built-in ``Graph.community_leiden`` (modularity by
default). The ``leidenalg`` package is imported only for ``backend="leidenalg"``
(e.g. its RB-configuration / CPM partitions with a native seed).

Community ids are relabelled by size: 0 is the largest community, ties broken by
the smallest member node index, so ids are stable for a given graph and seed.

Runs are reproducible for a given seed (see :mod:`memoryd.graph._rng`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import igraph as ig
import numpy as np

from memoryd.graph._rng import seeded_igraph
from memoryd.graph.memgraph import MemoryGraph, to_igraph

__all__ = ["LeidenConfig", "Clustering", "cluster", "assign_community"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeidenConfig:
    """Leiden parameters; defaults are modularity at resolution 1, iterate until stable."""

    objective: Literal["modularity", "cpm"] = "modularity"
    resolution: float = 1.0  # higher -> more, smaller communities (CPM: minimum density)
    n_iterations: int = -1  # negative: until an iteration does not improve quality
    beta: float = 0.01  # randomness of the refinement step (igraph backend)
    seed: int = 0
    backend: Literal["igraph", "leidenalg"] = "igraph"


@dataclass(frozen=True)
class Clustering:
    """A partition of memories into communities (ids 0..n_communities-1, 0 = largest)."""

    membership: dict[str, int]  # memory id -> community id
    modularity: float  # weighted Newman modularity (resolution 1) of the partition
    quality: float  # the objective the backend optimised
    n_communities: int
    sizes: dict[int, int] = field(default_factory=dict)  # community id -> member count

    def members(self) -> dict[int, list[str]]:
        """community id -> memory ids (in node order)."""
        out: dict[int, list[str]] = {c: [] for c in range(self.n_communities)}
        for mid, c in self.membership.items():
            out[c].append(mid)
        return out


def _relabel_by_size(raw: list[int]) -> list[int]:
    """Relabel so community 0 is the largest; ties by first (smallest) node index."""
    arr = np.asarray(raw, dtype=np.int64)
    if arr.size == 0:
        return []
    labels, first, counts = np.unique(arr, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))  # size desc, then first node asc
    new_of = np.empty(labels.max() + 1, dtype=np.int64)
    new_of[labels[order]] = np.arange(labels.shape[0])
    return [int(c) for c in new_of[arr]]


def _leiden_igraph(g: ig.Graph, config: LeidenConfig) -> tuple[list[int], float]:
    objective = "modularity" if config.objective == "modularity" else "CPM"
    weights = "weight" if g.ecount() else None
    with seeded_igraph(config.seed):
        vc = g.community_leiden(
            objective_function=objective,
            weights=weights,
            resolution=config.resolution,
            beta=config.beta,
            n_iterations=config.n_iterations,
        )
    return list(vc.membership), float(getattr(vc, "quality", float("nan")))


def _leiden_leidenalg(g: ig.Graph, config: LeidenConfig) -> tuple[list[int], float]:
    import leidenalg  # optional backend: only imported when asked for

    weights = "weight" if g.ecount() else None
    if config.objective == "modularity":
        part_type = leidenalg.RBConfigurationVertexPartition
    else:
        part_type = leidenalg.CPMVertexPartition
    part = leidenalg.find_partition(
        g,
        part_type,
        weights=weights,
        n_iterations=config.n_iterations,
        seed=config.seed,
        resolution_parameter=config.resolution,
    )
    return list(part.membership), float(part.quality())


def cluster(graph: MemoryGraph, config: LeidenConfig = LeidenConfig()) -> Clustering:
    """Partition the memory graph with Leiden.

    Memories without any edge become singleton communities. The returned
    ``modularity`` is always the weighted modularity at resolution 1 so runs
    with different objectives can be compared.
    """
    g = to_igraph(graph)
    if graph.n_nodes == 0:
        return Clustering({}, 0.0, 0.0, 0, {})
    if config.backend == "igraph":
        raw, quality = _leiden_igraph(g, config)
    elif config.backend == "leidenalg":
        raw, quality = _leiden_leidenalg(g, config)
    else:
        raise ValueError(f"unknown backend {config.backend!r}")
    membership = _relabel_by_size(raw)
    modularity = float(g.modularity(membership, weights="weight" if g.ecount() else None))
    n_comm = max(membership) + 1
    sizes = np.bincount(np.asarray(membership), minlength=n_comm)
    log.debug("leiden: %d nodes, %d edges -> %d communities, Q=%.3f",
              graph.n_nodes, graph.n_edges, n_comm, modularity)
    return Clustering(
        membership=dict(zip(graph.ids, membership)),
        modularity=modularity,
        quality=quality,
        n_communities=int(n_comm),
        sizes={c: int(s) for c, s in enumerate(sizes)},
    )


def assign_community(
    neighbours: Mapping[str, float] | Iterable[tuple[str, float]],
    membership: Mapping[str, int],
    *,
    min_weight: float = 0.0,
    new_id: int | None = None,
) -> int:
    """The community a new memory joins, without re-running Leiden.

    It joins the community whose members it links to with the largest summed
    edge weight (ties: the smaller id, i.e. the larger community). If no
    neighbour has a community, or the best sum is below ``min_weight``, it
    starts a new singleton community: ``new_id`` if given, else
    ``max(membership) + 1``.

    Args:
        neighbours: (memory id, edge weight) to existing memories, e.g. from
            :func:`memoryd.graph.memgraph.link_weights_for_new`.
        membership: current memory id -> community id.
    """
    items = neighbours.items() if isinstance(neighbours, Mapping) else neighbours
    totals: dict[int, float] = {}
    for mid, w in items:
        c = membership.get(mid)
        if c is not None and w > 0:
            totals[c] = totals.get(c, 0.0) + float(w)
    if totals:
        best = min(totals, key=lambda c: (-totals[c], c))
        if totals[best] >= min_weight:
            return best
    if new_id is not None:
        return new_id
    return max(membership.values(), default=-1) + 1
