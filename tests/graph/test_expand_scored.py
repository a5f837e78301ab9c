"""Score-based expansion (what recall uses): gaps between fused scores matter."""

from __future__ import annotations

from memoryd.graph.expand import Link, ScoredExpandConfig, expand_scored


def test_a_strong_link_from_a_clear_top_hit_climbs_above_weak_seeds():
    hits = [("top", 2.0), ("s2", 0.9), ("s3", 0.8), ("s4", 0.7), ("s5", 0.6), ("s6", 0.5)]
    out = expand_scored(hits, {"top": [Link("hop", 1.0, "entity", "code:x")]})
    ids = [h.id for h in out]
    assert ids[:2] == ["top", "hop"] and ids.index("s6") > ids.index("hop")
    hop = out[1]
    assert hop.seed_rank is None and hop.base_score == 0.0 and hop.gain == 1.0
    assert [(v.seed, v.kind, v.entity) for v in hop.via] == [("top", "entity", "code:x")]


def test_seed_order_never_changes_and_a_weak_seeds_link_stays_low():
    hits = [(f"s{i}", 1.0 - i / 10) for i in range(6)]
    out = expand_scored(hits, {f"s{i}": [Link(f"s{i + 1}", 1.0), Link(f"n{i}", 0.5)] for i in range(6)})
    seeds = [h.id for h in out if h.seed_rank is not None and h.seed_rank < 5]
    assert seeds == [f"s{i}" for i in range(5)]
    assert out[0].id == "s0" and [h.id for h in out].index("n4") > [h.id for h in out].index("n0")


def test_max_combines_a_look_alike_reached_from_every_seed_once():
    hits = [("a", 1.0), ("b", 1.0), ("c", 1.0)]
    links = {s: [Link("alike", 0.8)] for s in "abc"}
    mx = {h.id: h for h in expand_scored(hits, links)}["alike"]
    sm = {h.id: h for h in expand_scored(hits, links, ScoredExpandConfig(combine="sum"))}["alike"]
    assert mx.score == 0.4 and sm.score == 0.5  # sum is capped at fraction * top score


def test_weak_links_and_unlisted_seeds_are_ignored():
    hits = [("a", 1.0)] + [(f"x{i}", 0.1) for i in range(6)]
    out = expand_scored(hits, {"a": [Link("weak", 0.1)], "x5": [Link("deep", 1.0)]})
    assert {h.id for h in out} == {"a", *(f"x{i}" for i in range(6))}
    assert all(h.gain == 0 for h in out)
