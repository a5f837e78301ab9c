"""The memory graph as plain data: nodes are memories, edges carry similarity and shared entities.

An edge's ``weight`` is ``similarity + entity`` where

* ``similarity`` is the cosine of a kNN edge (0 when the pair is only entity-linked);
* ``entity`` sums, over the entities both memories mention, ``entity_weight /
  log2(1 + df)`` (``df`` = memories mentioning the entity, an IDF-like damping),
  capped at ``max_entity_link``.

Hub capping: an entity mentioned by more than ``max_entity_members`` memories
adds no edges at all, so a ubiquitous entity ("python", "@me") cannot turn
thousands of memories into a clique (m members would add m(m-1)/2 edges).

Everything here is pure: arrays and dataclasses in, arrays and dataclasses out.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import igraph as ig
import numpy as np
import numpy.typing as npt

from memoryd.graph.entities import Entity

__all__ = [
    "GraphConfig",
    "MemoryGraph",
    "build_memory_graph",
    "entity_keys",
    "entity_members",
    "link_weights_for_new",
    "to_igraph",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GraphConfig:
    """How similarity and shared-entity links combine into edge weights."""

    entity_weight: float = 0.5  # per shared entity at df=1 before damping; 0 disables entity edges
    max_entity_members: int = 50  # hub cap: entities on more memories add no edges
    max_entity_link: float = 1.0  # cap on the summed entity weight of one pair


@dataclass(frozen=True)
class MemoryGraph:
    """Undirected weighted graph over memories; node ``i`` is memory ``ids[i]``.

    Edge arrays are aligned, ``src < dst``, sorted by (src, dst), no duplicates.
    """

    ids: tuple[str, ...]
    src: npt.NDArray[np.int64]  # (m,)
    dst: npt.NDArray[np.int64]  # (m,)
    weight: npt.NDArray[np.float32]  # (m,) similarity + entity
    similarity: npt.NDArray[np.float32]  # (m,) cosine, 0 if not a kNN edge
    entity: npt.NDArray[np.float32]  # (m,) shared-entity weight, 0 if none

    @property
    def n_nodes(self) -> int:
        return len(self.ids)

    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])

    def edge_kind(self, i: int) -> str:
        """'similar', 'entity' or 'both' for edge ``i``."""
        s, e = self.similarity[i] > 0, self.entity[i] > 0
        return "both" if s and e else ("similar" if s else "entity")


def entity_keys(entities: Iterable[Entity]) -> list[str]:
    """Namespaced match keys (``"kind:key"``) for a memory's extracted entities."""
    return sorted({f"{e.kind}:{e.key}" for e in entities})


def entity_members(
    entities_by_memory: Mapping[str, Iterable[str]],
) -> dict[str, list[str]]:
    """Invert ``memory id -> entity keys`` to ``entity key -> memory ids`` (sorted)."""
    members: dict[str, set[str]] = {}
    for mid, keys in entities_by_memory.items():
        for key in keys:
            members.setdefault(key, set()).add(mid)
    return {key: sorted(mids) for key, mids in members.items()}


def _entity_pair_weight(df: int, config: GraphConfig) -> float:
    return config.entity_weight / math.log2(1 + df)


def _entity_edges(
    ids: Sequence[str],
    entities_by_memory: Mapping[str, Iterable[str]],
    config: GraphConfig,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Pair keys (lo * n + hi) and summed entity weights, hub-capped."""
    n = len(ids)
    if config.entity_weight <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    index = {mid: i for i, mid in enumerate(ids)}
    members: dict[str, list[int]] = {}
    for mid, keys in entities_by_memory.items():
        i = index.get(mid)
        if i is None:
            continue
        for key in set(keys):
            members.setdefault(key, []).append(i)
    keys_parts: list[npt.NDArray[np.int64]] = []
    w_parts: list[npt.NDArray[np.float32]] = []
    skipped = 0
    for nodes in members.values():
        df = len(nodes)
        if df < 2:
            continue
        if df > config.max_entity_members:
            skipped += 1
            continue
        arr = np.sort(np.asarray(nodes, dtype=np.int64))
        a, b = np.triu_indices(df, 1)
        keys_parts.append(arr[a] * n + arr[b])
        w_parts.append(np.full(a.shape[0], _entity_pair_weight(df, config), np.float32))
    if skipped:
        log.debug("entity hub cap: %d entities with > %d members skipped", skipped, config.max_entity_members)
    if not keys_parts:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    keys = np.concatenate(keys_parts)
    w = np.concatenate(w_parts)
    ukeys, inv = np.unique(keys, return_inverse=True)
    summed = np.bincount(inv, weights=w, minlength=ukeys.shape[0]).astype(np.float32)
    return ukeys, np.minimum(summed, np.float32(config.max_entity_link))


def build_memory_graph(
    ids: Sequence[str],
    sim_src: npt.ArrayLike,
    sim_dst: npt.ArrayLike,
    sim_weight: npt.ArrayLike,
    entities_by_memory: Mapping[str, Iterable[str]] | None = None,
    config: GraphConfig = GraphConfig(),
) -> MemoryGraph:
    """Merge kNN similarity edges (indices into ``ids``) with shared-entity edges.

    Args:
        ids: memory ids; node ``i`` is ``ids[i]`` (the rows of the vector matrix).
        sim_src, sim_dst, sim_weight: similarity edges, e.g. from
            :func:`memoryd.graph.knn.knn_edges` (order and direction do not matter;
            duplicates keep the largest similarity).
        entities_by_memory: memory id -> entity keys (see :func:`entity_keys`).
        config: entity weighting and hub cap.
    """
    n = len(ids)
    if len(set(ids)) != n:
        raise ValueError("ids must be unique")
    s = np.asarray(sim_src, dtype=np.int64)
    d = np.asarray(sim_dst, dtype=np.int64)
    w = np.asarray(sim_weight, dtype=np.float32)
    if not (s.shape == d.shape == w.shape):
        raise ValueError("sim_src, sim_dst, sim_weight must have the same length")
    if s.size and (min(s.min(), d.min()) < 0 or max(s.max(), d.max()) >= n):
        raise ValueError("similarity edge index out of range")
    keep = s != d
    lo = np.minimum(s, d)[keep]
    hi = np.maximum(s, d)[keep]
    sim_keys = lo * n + hi
    sim_w = w[keep]
    ent_keys, ent_w = _entity_edges(ids, entities_by_memory or {}, config)

    all_keys = np.concatenate([sim_keys, ent_keys])
    ukeys, inv = np.unique(all_keys, return_inverse=True)  # sorted => (src, dst) order
    m = ukeys.shape[0]
    similarity = np.zeros(m, np.float32)
    np.maximum.at(similarity, inv[: sim_keys.shape[0]], sim_w)
    entity = np.zeros(m, np.float32)
    entity[inv[sim_keys.shape[0] :]] = ent_w  # ent_keys are already unique
    return MemoryGraph(
        ids=tuple(ids),
        src=(ukeys // max(n, 1)).astype(np.int64),
        dst=(ukeys % max(n, 1)).astype(np.int64),
        weight=similarity + entity,
        similarity=similarity,
        entity=entity,
    )


def link_weights_for_new(
    sim_neighbours: Iterable[tuple[str, float]],
    new_keys: Iterable[str],
    members: Mapping[str, Sequence[str]],
    config: GraphConfig = GraphConfig(),
) -> dict[str, float]:
    """Edge weights from one new memory to existing ones, as :func:`build_memory_graph` would give.

    Args:
        sim_neighbours: (memory id, cosine) of the new memory's kNN neighbours.
        new_keys: the new memory's entity keys.
        members: entity key -> existing memory ids (see :func:`entity_members`),
            not yet including the new memory.
    """
    out: dict[str, float] = {}
    for mid, sim in sim_neighbours:
        out[mid] = max(out.get(mid, 0.0), float(sim))
    if config.entity_weight <= 0:
        return out
    ent: dict[str, float] = {}
    for key in set(new_keys):
        existing = members.get(key, ())
        df = len(existing) + 1  # including the new memory
        if df < 2 or df > config.max_entity_members:
            continue
        w = _entity_pair_weight(df, config)
        for mid in existing:
            ent[mid] = ent.get(mid, 0.0) + w
    for mid, w in ent.items():
        out[mid] = out.get(mid, 0.0) + min(w, config.max_entity_link)
    return out


def to_igraph(graph: MemoryGraph) -> ig.Graph:
    """An undirected igraph Graph with vertex attribute ``memory_id`` and edge
    attributes ``weight``, ``similarity``, ``entity``."""
    g = ig.Graph(n=graph.n_nodes, directed=False)
    if graph.n_edges:
        g.add_edges(np.column_stack([graph.src, graph.dst]).tolist())
        g.es["weight"] = graph.weight.astype(float).tolist()
        g.es["similarity"] = graph.similarity.astype(float).tolist()
        g.es["entity"] = graph.entity.astype(float).tolist()
    g.vs["memory_id"] = list(graph.ids)
    return g
