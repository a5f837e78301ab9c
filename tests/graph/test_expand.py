from __future__ import annotations

import numpy as np
import pytest

from memoryd.graph.expand import ExpandConfig, Link, adjacency, expand_hits
from memoryd.graph.memgraph import build_memory_graph, entity_members


def test_expansion_pulls_in_a_linked_memory_with_its_reason() -> None:
    adj = {"s1": [Link("linked", 0.9, "entity", "code:foo_bar")]}
    out = expand_hits([("s1", 3.0), ("s2", 2.0)], adj)
    ids = [h.id for h in out]
    assert ids == ["s1", "s2", "linked"]
    pulled = out[2]
    assert not pulled.is_seed and pulled.seed_rank is None
    assert [(v.seed, v.kind, v.entity) for v in pulled.via] == [("s1", "entity", "code:foo_bar")]
    assert out[0].is_seed and out[0].base_score == 3.0 and out[0].via == ()


def test_seed_order_is_stable_and_single_seed_neighbours_stay_below_seeds() -> None:
    hits = [(f"s{i}", 10.0 - i) for i in range(10)]
    adj = {f"s{i}": [Link(f"n{i}", 1.0), Link(f"s{i + 1}", 1.0)] for i in range(10)}
    out = expand_hits(hits, adj)
    seeds = [h.id for h in out if h.is_seed]
    assert seeds == [h for h, _ in hits]
    assert [h.id for h in out[:10]] == seeds  # every pulled-in hit ranks after all seeds
    # no duplicates: a seed linked from another seed is not pulled in again (s10 is no seed)
    assert sorted(h.id for h in out) == sorted([f"s{i}" for i in range(11)] + [f"n{i}" for i in range(10)])


def test_neighbour_of_several_seeds_can_outrank_a_seed() -> None:
    hits = [("s0", 1.0), ("s1", 0.9), ("s2", 0.8)]
    adj = {"s0": [Link("hub", 1.0)], "s1": [Link("hub", 1.0)], "s2": []}
    out = [h.id for h in expand_hits(hits, adj)]
    assert out.index("hub") < out.index("s2")
    hub = next(h for h in expand_hits(hits, adj) if h.id == "hub")
    assert {v.seed for v in hub.via} == {"s0", "s1"}


def test_limits_and_min_weight_and_callable_source() -> None:
    links = [Link(f"n{i}", 0.1 * i) for i in range(1, 10)]
    cfg = ExpandConfig(max_neighbours_per_seed=3, min_link_weight=0.5)
    out = expand_hits([("s", 1.0)], lambda mid: links if mid == "s" else [], cfg)
    assert [h.id for h in out] == ["s", "n9", "n8", "n7"]
    only_top = expand_hits([("a", 1.0), ("b", 0.5)], {"b": [Link("x", 1.0)]}, ExpandConfig(max_seeds=1))
    assert [h.id for h in only_top] == ["a", "b"]
    assert len(expand_hits([("a", 1.0)], {"a": [Link("x", 1.0)]}, ExpandConfig(limit=1))) == 1


def test_duplicate_links_to_one_neighbour_count_once_per_seed() -> None:
    adj = {"s": [Link("n", 0.8, "similar"), Link("n", 0.5, "entity", "name:alice novak")]}
    out = expand_hits([("s", 1.0)], adj)
    n = out[1]
    assert n.score == pytest.approx(0.5 * 0.8 / 61)  # the stronger link, not the sum
    assert [v.kind for v in n.via] == ["similar", "entity"]


def test_adjacency_from_graph_and_entities() -> None:
    ids = ["a", "b", "c", "d"]
    graph = build_memory_graph(ids, np.array([0]), np.array([1]), np.array([0.7], np.float32))
    members = entity_members({"c": ["code:x"], "a": ["code:x"], "d": []})
    adj = adjacency(graph, members)
    assert {(lk.id, lk.kind) for lk in adj["a"]} == {("b", "similar"), ("c", "entity")}
    assert adj["c"][0].entity == "code:x"
    assert adj["d"] == []
    out = expand_hits([("c", 1.0)], adj)
    assert [h.id for h in out] == ["c", "a"]
