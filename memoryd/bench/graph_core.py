"""Timing of the graph core on synthetic clustered embeddings (no model, no database).

``bench_core(n)`` plants ``n_topics`` topics: each memory is its topic's unit
centroid plus isotropic noise of the same norm (cos ~ 0.5 within a topic,
~ 0 across), renormalised; optionally each memory also mentions two entities
from its topic's vocabulary and one hub entity shared by everyone (which the
hub cap must drop). It then times the full rebuild (kNN -> graph -> Leiden)
and the incremental add of fresh memories (kNN of one vector -> link weights ->
community assignment), and scores the communities against the planted topics.

    python -m memoryd.bench.graph_core 10000 100000
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import numpy as np

from ..graph.communities import LeidenConfig, assign_community, cluster
from ..graph.knn import knn_edges, neighbours_of
from ..graph.memgraph import (
    GraphConfig,
    build_memory_graph,
    entity_members,
    link_weights_for_new,
)
from ..graph.metrics import score_communities

__all__ = ["bench_core", "synthetic_corpus"]

log = logging.getLogger(__name__)


def synthetic_corpus(
    n: int,
    dim: int,
    n_topics: int,
    seed: int,
    noise: float = 1.0,
    secondary: float = 0.5,
    entities: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """(vectors (n, dim) float32 L2-normalised, topic per row (n,), entity keys per row).

    Row = centroid[topic] + secondary * centroid[random other topic] + noise * N(0, I/dim):
    the secondary topic creates realistic cross-topic similarity edges.
    """
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((n_topics, dim)).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    topic = rng.integers(0, n_topics, n)
    other = rng.integers(0, n_topics, n)
    x = centroids[topic] + secondary * centroids[other]
    x += noise * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # (n, dim)
    keys: list[list[str]] = []
    if entities:
        vocab = 100  # entity keys per topic: each memory picks 2 -> df ~ 2n / (vocab * n_topics)
        picks = rng.integers(0, vocab, (n, 2))
        keys = [[f"code:t{t}_e{a}", f"phrase:t{t} e{b}", "name:hub everyone"]
                for t, (a, b) in zip(topic.tolist(), picks.tolist())]
    return x.astype(np.float32), topic, keys


def _majority(comm: np.ndarray, topic: np.ndarray) -> dict[int, int]:
    pairs, counts = np.unique(np.column_stack([comm, topic]), axis=0, return_counts=True)
    order = np.lexsort((-counts, pairs[:, 0]))  # per community, largest count first
    best: dict[int, int] = {}
    for c, t in pairs[order].tolist():
        best.setdefault(int(c), int(t))
    return best


def bench_core(
    n: int,
    dim: int = 384,
    seed: int = 0,
    *,
    k: int = 10,
    threshold: float = 0.3,
    n_topics: int | None = None,
    noise: float = 1.0,
    secondary: float = 0.5,
    entities: bool = True,
    incremental_trials: int = 50,
    leiden: LeidenConfig = LeidenConfig(),
    graph_config: GraphConfig = GraphConfig(),
) -> dict[str, Any]:
    """Time kNN + graph build + Leiden on ``n`` synthetic memories, and one-memory adds.

    Returns a flat dict of timings (seconds; ``incr_*`` in milliseconds),
    graph sizes and quality scores against the planted topics.
    """
    topics = n_topics or max(2, int(round(np.sqrt(n))))
    total = n + incremental_trials
    x_all, topic_all, keys_all = synthetic_corpus(
        total, dim, topics, seed, noise=noise, secondary=secondary, entities=entities
    )
    x, topic = x_all[:n], topic_all[:n]
    ids = [f"m{i}" for i in range(n)]
    ents = {ids[i]: keys_all[i] for i in range(n)} if entities else {}

    t0 = time.perf_counter()
    src, dst, w = knn_edges(x, k=k, threshold=threshold)
    t1 = time.perf_counter()
    graph = build_memory_graph(ids, src, dst, w, ents, graph_config)
    t2 = time.perf_counter()
    clustering = cluster(graph, leiden)
    t3 = time.perf_counter()
    scores = score_communities(clustering.membership, dict(zip(ids, topic.tolist())))

    members = entity_members(ents)
    membership = dict(clustering.membership)
    comm = np.array([membership[i] for i in ids])
    majority = _majority(comm, topic)  # community -> its most common planted topic
    lat: list[float] = []
    correct = 0
    for j in range(incremental_trials):
        q = x_all[n + j]
        s = time.perf_counter()
        nb = neighbours_of(q, x, k, threshold)
        weights = link_weights_for_new(
            ((ids[i], float(v)) for i, v in zip(nb.index.tolist(), nb.weight.tolist())),
            keys_all[n + j] if entities else (),
            members,
            graph_config,
        )
        c = assign_community(weights, membership)
        lat.append((time.perf_counter() - s) * 1000)
        correct += majority.get(c, -1) == int(topic_all[n + j])

    result: dict[str, Any] = {
        "n": n,
        "dim": dim,
        "k": k,
        "threshold": threshold,
        "n_topics": topics,
        "noise": noise,
        "secondary": secondary,
        "entities": entities,
        "knn_s": round(t1 - t0, 3),
        "graph_build_s": round(t2 - t1, 3),
        "leiden_s": round(t3 - t2, 3),
        "rebuild_total_s": round(t3 - t0, 3),
        "n_knn_edges": len(src),
        "n_edges": graph.n_edges,
        "n_communities": clustering.n_communities,
        "modularity": round(clustering.modularity, 4),
        "nmi": round(scores.nmi, 4),
        "purity": round(scores.purity, 4),
        "incr_median_ms": round(float(np.median(lat)), 2) if lat else None,
        "incr_p95_ms": round(float(np.percentile(lat, 95)), 2) if lat else None,
        "incr_topic_accuracy": round(correct / incremental_trials, 3) if incremental_trials else None,
    }
    log.info("bench_core: %s", result)
    return result


def main(argv: list[str]) -> None:
    import json

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    for arg in argv or ["10000"]:
        sys.stdout.write(json.dumps(bench_core(int(arg))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
