"""The unlearning bench (memoryd/bench/unlearn): its baselines and a smoke run of the driver."""

from __future__ import annotations

import json
import statistics

import pytest
import torch

from memoryd.bench.unlearn import (GAConfig, gradient_ascent, render_unlearn_table, run_unlearn_benchmark,
                                   selective_synaptic_dampening)
from memoryd.editing.tiny import TINY_TEST

CPU = torch.device("cpu")


def test_baselines_change_the_model(trained_lm):
    lm = trained_lm.copy()
    ga = gradient_ascent(lm.model, lm.tokenizer, lm.memories[:1], GAConfig(lr=1e-3, max_steps=50), device=CPU)
    assert ga.forgot and ga.steps >= 1
    lm2 = trained_lm.copy()
    ssd = selective_synaptic_dampening(lm2.model, lm2.tokenizer, lm2.memories[:1], lm2.memories[1:], device=CPU)
    assert ssd.changed_params > 0


@pytest.mark.slow  # bench-sized: every unlearning method, twice
def test_benchmark_smoke():
    r = run_unlearn_benchmark(n_profiles=10, n_forget=2, n_heldout=4, n_sequential=2, repeats=2, model_cfg=TINY_TEST,
                              speed_sizes=(1, 10))
    assert set(r["methods"]) == {"stamp", "stamp_lowrank", "stamp_no_repair", "gradient_ascent", "ssd", "uno", "retrain"}
    gold = r["methods"]["retrain"]  # trained from scratch on the retained memories only
    assert gold["epochs"] >= 1 and gold["r_rl"] >= 0.9 and gold["forget_exact"] <= 0.5
    for name, m in r["methods"].items():  # times are the median of the runs, each from the same weights
        if name == "retrain":
            continue
        runs = m["seconds_runs"]
        assert len(runs) == 2 and m["seconds"] == pytest.approx(statistics.median(runs), abs=1e-4), name
        assert m.get("repeat_same_edit", True), name
    s = r["methods"]["stamp"]
    assert s["compute_did_not_mutate"] and s["revert_bit_identical"]
    assert r["sequential"]["requests"] == 2
    assert 0.0 <= r["sequential"]["unseen_exact_after"] <= 1.0 and 0.0 <= r["before"]["unseen_exact"] <= 1.0
    assert r["methods"]["stamp_no_repair"]["repair_rounds"] == 0
    assert r["methods"]["stamp_no_repair"]["check_seconds"] == 0.0
    for name in ("stamp", "stamp_lowrank"):
        m = r["methods"][name]
        assert 0.0 <= m["check_seconds"] <= m["seconds"]
        assert m["speedup_vs_ga"] > 0 and m["speedup_vs_ga_without_checks"] > 0
    table = render_unlearn_table(r)
    assert "stamp_lowrank" in table and "gradient_ascent" in table and "time in checks" in table
    assert "never-seen profiles" in table and "retrain" in table
    assert json.loads(json.dumps(r))["methods"].keys() == r["methods"].keys()  # the --json output
    sp = r["speed_by_size"]  # 10 of 10 profiles leaves nothing to retain: only n=1 is timed
    assert [x["n"] for x in sp["sizes"]] == [1] and sp["worst_n"] == 1
    assert "speed by request size" in table and "stamp_10x_faster_than_ga_at_every_size" in r["targets"]


def test_ga_stop_rule_is_checked():
    with pytest.raises(ValueError, match="stop_when"):
        GAConfig(stop_when="never")


def test_speed_by_size_times_both_methods_from_the_same_weights(trained_lm, one_thread):
    from memoryd.bench.unlearn.speed_sizes import speed_by_size
    from memoryd.editing.stamp import StampConfig

    lm = trained_lm.copy()
    before = [p.detach().clone() for p in lm.model.parameters()]
    n = len(lm.memories)
    order = list(reversed(range(n)))
    r = speed_by_size(lm.model, lm.tokenizer, lm.memories, order, (1, 2, n), StampConfig(solver="full"),
                      GAConfig(lr=1e-3, max_steps=50), CPU, repeats=1)
    assert [x["n"] for x in r["sizes"]] == [1, 2]  # n itself leaves nothing to retain: skipped
    assert all(torch.equal(a, b) for a, b in zip(before, lm.model.parameters()))  # weights left as found
    for x in r["sizes"]:
        assert x["retained"] == n - x["n"] and x["ga_steps"] >= 1 and x["ga_reached_zero"]
        assert x["ga_f_rl"] == 0.0  # GA ran to STAMP's standard (no word of an answer), not just no exact answer
        assert x["stamp_seconds"] > 0 and x["ga_seconds"] > 0
        assert x["ratio"] == pytest.approx(x["ga_seconds"] / x["stamp_seconds"], rel=0.02)
        assert x["stamp_forget_exact"] == 0.0 and x["ga_forget_exact"] == 0.0
        assert x["equal_forgetting"] == (x["stamp_f_rl"] == x["ga_f_rl"] == 0.0)
    worst = min(r["sizes"], key=lambda x: x["ratio"])
    assert (r["worst_n"], r["worst_ratio"]) == (worst["n"], worst["ratio"])
    assert r["target_10x_at_every_size"] == all(x["ratio"] >= 10 for x in r["sizes"])
    for x in r["sizes"]:
        assert x["stamp_floor_seconds"] > 0
        assert x["floor_ratio"] == pytest.approx(x["ga_seconds"] / x["stamp_floor_seconds"], rel=0.02)
    assert r["floor_allows_10x_at_every_size"] == all(x["floor_ratio"] >= 10 for x in r["sizes"])
