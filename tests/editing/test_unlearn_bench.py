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
    r = run_unlearn_benchmark(n_profiles=10, n_forget=2, n_heldout=4, n_sequential=2, repeats=2, model_cfg=TINY_TEST)
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
