from __future__ import annotations

import numpy as np
import pytest

from memoryd.graph.communities import LeidenConfig, assign_community, cluster
from memoryd.graph.memgraph import (
    GraphConfig,
    build_memory_graph,
    entity_members,
    link_weights_for_new,
    to_igraph,
)
from memoryd.graph.metrics import nmi, purity, score_communities


def planted(groups: int = 5, size: int = 40, p_in: float = 0.3, p_out: float = 0.01, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = groups * size
    truth = np.repeat(np.arange(groups), size)
    a, b = np.triu_indices(n, 1)
    p = np.where(truth[a] == truth[b], p_in, p_out)
    keep = rng.random(a.shape[0]) < p
    ids = [f"m{i}" for i in range(n)]
    w = rng.uniform(0.5, 1.0, keep.sum()).astype(np.float32)
    return ids, a[keep], b[keep], w, {ids[i]: int(truth[i]) for i in range(n)}


def test_leiden_recovers_planted_partition() -> None:
    ids, s, d, w, truth = planted()
    graph = build_memory_graph(ids, s, d, w)
    result = cluster(graph, LeidenConfig(seed=1))
    assert result.n_communities == 5
    assert nmi(result.membership, truth) > 0.95
    assert purity(result.membership, truth) > 0.95
    assert result.modularity > 0.6
    assert sum(result.sizes.values()) == len(ids)
    assert sorted(result.sizes.values(), reverse=True) == [result.sizes[c] for c in range(5)]


def test_leiden_is_deterministic_for_a_seed() -> None:
    ids, s, d, w, _ = planted(groups=8, size=25, p_in=0.15, p_out=0.03, seed=3)
    graph = build_memory_graph(ids, s, d, w)
    assert cluster(graph, LeidenConfig(seed=7)).membership == cluster(graph, LeidenConfig(seed=7)).membership


def test_random_graph_scores_low_against_planted_labels() -> None:
    ids, s, d, w, truth = planted(p_in=0.05, p_out=0.05, seed=2)  # no structure
    result = cluster(build_memory_graph(ids, s, d, w))
    assert nmi(result.membership, truth) < 0.5


@pytest.mark.parametrize("config", [
    LeidenConfig(backend="leidenalg", seed=3),
    LeidenConfig(objective="cpm", resolution=0.05, seed=3),
    LeidenConfig(backend="leidenalg", objective="cpm", resolution=0.05, seed=3),
])
def test_other_objectives_and_backend(config: LeidenConfig) -> None:
    ids, s, d, w, truth = planted(seed=4)
    result = cluster(build_memory_graph(ids, s, d, w), config)
    assert score_communities(result.membership, truth).nmi > 0.9


def test_isolated_memories_are_singletons_and_empty_graph_works() -> None:
    graph = build_memory_graph(["a", "b", "c"], [0], [1], [0.9])
    result = cluster(graph)
    assert result.membership["a"] == result.membership["b"] == 0
    assert result.membership["c"] == 1
    empty = cluster(build_memory_graph([], [], [], []))
    assert empty.membership == {} and empty.n_communities == 0


def test_entity_edges_link_memories_and_hub_is_capped() -> None:
    ids = [f"m{i}" for i in range(6)]
    ents = {
        "m0": ["code:foo_bar", "name:hub"],
        "m1": ["code:foo_bar", "name:hub"],
        "m2": ["name:hub"],
        "m3": ["name:hub"],
        "m4": ["name:hub"],
        "m5": ["name:hub"],
    }
    cfg = GraphConfig(entity_weight=0.5, max_entity_members=3)
    graph = build_memory_graph(ids, [0], [2], [0.8], ents, cfg)
    pairs = {(ids[a], ids[b]): (float(s), float(e)) for a, b, s, e in
             zip(graph.src, graph.dst, graph.similarity, graph.entity)}
    # foo_bar (df=2) links m0-m1; the 6-member hub adds nothing
    assert set(pairs) == {("m0", "m1"), ("m0", "m2")}
    assert pairs["m0", "m1"] == (0.0, pytest.approx(0.5 / np.log2(3)))
    assert pairs["m0", "m2"] == (pytest.approx(0.8), 0.0)
    assert graph.edge_kind(0) == "entity" and graph.edge_kind(1) == "similar"
    # without the cap the hub makes a clique
    uncapped = build_memory_graph(ids, [0], [2], [0.8], ents, GraphConfig(max_entity_members=100))
    assert uncapped.n_edges == 15


def test_similarity_and_entity_weights_add_up_on_one_edge() -> None:
    graph = build_memory_graph(["a", "b"], [1, 0], [0, 1], [0.6, 0.7], {"a": ["k"], "b": ["k"]},
                               GraphConfig(entity_weight=1.0))
    assert graph.n_edges == 1
    assert graph.similarity[0] == pytest.approx(0.7)  # duplicate similarity edges keep the max
    assert graph.weight[0] == pytest.approx(0.7 + 1.0 / np.log2(3))  # df=2 damping
    assert graph.edge_kind(0) == "both"
    g = to_igraph(graph)
    assert g.vs["memory_id"] == ["a", "b"] and g.es["weight"][0] == pytest.approx(0.7 + 1.0 / np.log2(3))


def test_build_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        build_memory_graph(["a", "a"], [], [], [])
    with pytest.raises(ValueError):
        build_memory_graph(["a"], [0], [3], [0.5])


def test_link_weights_for_new_match_a_rebuild() -> None:
    ids = ["a", "b", "c", "new"]
    ents = {"a": ["x", "y"], "b": ["x"], "c": ["y"], "new": ["x", "y"]}
    rebuilt = build_memory_graph(ids, [3, 3], [0, 2], [0.6, 0.4], ents)
    want = {ids[a if b == 3 else b]: float(w) for a, b, w in
            zip(rebuilt.src, rebuilt.dst, rebuilt.weight) if 3 in (a, b)}
    members = entity_members({k: v for k, v in ents.items() if k != "new"})
    got = link_weights_for_new([("a", 0.6), ("c", 0.4)], ents["new"], members)
    assert got == pytest.approx(want)


def test_assign_community_picks_largest_summed_weight() -> None:
    membership = {"a": 0, "b": 0, "c": 1, "d": 2}
    # c alone is the strongest single link, but a+b sum higher
    assert assign_community({"a": 0.4, "b": 0.4, "c": 0.7}, membership) == 0
    assert assign_community([("c", 0.9), ("a", 0.1)], membership) == 1
    # tie -> smaller (= larger) community id
    assert assign_community({"c": 0.5, "d": 0.5}, membership) == 1


def test_assign_community_new_singleton() -> None:
    membership = {"a": 0, "b": 3}
    assert assign_community({}, membership) == 4
    assert assign_community({"unknown": 0.9}, membership) == 4
    assert assign_community({"a": 0.1}, membership, min_weight=0.5) == 4
    assert assign_community({"a": 0.1}, membership, min_weight=0.5, new_id=42) == 42
    assert assign_community({}, {}) == 0


def test_incremental_assignment_agrees_with_topic() -> None:
    ids, s, d, w, truth = planted(seed=5)
    result = cluster(build_memory_graph(ids, s, d, w))
    # a newcomer linked to 6 members of topic 2 and 1 member of topic 0
    topic2 = [m for m in ids if truth[m] == 2][:6]
    topic0 = [m for m in ids if truth[m] == 0][:1]
    links = {m: 0.5 for m in topic2} | {m: 0.9 for m in topic0}
    assert assign_community(links, result.membership) == result.membership[topic2[0]]
