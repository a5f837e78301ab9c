"""`bench unlearn --attacks --seeds`: the suite's rows pooled over seeds (pooled.py, a pure function)."""

from __future__ import annotations

import pytest

from memoryd.bench.unlearn.pooled import pool_attack_runs
from memoryd.bench.unlearn.table import render_pooled_table


def _row(heldout, part, *, privleak=0.0, distinguish=0.5, gold="retrain", passes=None):
    return {"direct": 0.0, "heldout": {"all": heldout}, "relearn_related": {"heldout": 0.0, "direct": 0.0},
            "relearn_part": {"heldout": part, "direct": 0.0}, "mink": {"auc_erased_vs_unseen": 0.5},
            "privleak": privleak, "distinguish": distinguish, "r_rl_ratio": 1.0, "seconds": 1.0, "gold": gold,
            "pass": passes or {}}


def _run(seed, exact_part, gold_part, exact_dist):
    return {"config": {"seed": seed}, "attacks": {"methods": {
        "exact_shards": _row(0.04, exact_part, privleak=1.0, distinguish=exact_dist, gold="exact_shards_gold",
                             passes={"relearn": exact_part <= gold_part + 0.02, "distinguish": exact_dist <= 0.55}),
        "exact_shards_gold": _row(0.04, gold_part, distinguish=0.99, passes={"distinguish": False}),
        "retrain": _row(0.04, 0.04, gold="retrain")}}}


def test_targets_are_judged_on_the_means_and_single_seed_failures_stay_visible():
    # seed 0: relearn 2 probes of 48 above its gold (fails alone); seed 1: one below; the means tie
    runs = [_run(0, 0.0625, 0.0208, 0.56), _run(1, 0.0208, 0.0625, 0.48)]
    p = pool_attack_runs(runs)
    ex = p["methods"]["exact_shards"]
    assert p["n_seeds"] == 2 and p["seeds"] == [0, 1] and ex["seeds"] == 2
    part = ex["figures"]["relearn_part"]
    assert part["mean"] == pytest.approx(0.04165, abs=1e-4) and part["values"] == [0.0625, 0.0208]
    assert (part["min"], part["max"]) == (0.0208, 0.0625)
    assert ex["pass"]["relearn"] and ex["pass"]["distinguish"]  # 0.0417 <= 0.0417 + 0.02; mean 0.52 <= 0.55
    assert ex["fails"] == {"relearn": 1, "distinguish": 1}
    assert "failed alone: relearn 1/2, distinguish 1/2" in render_pooled_table(p)
    gold = p["methods"]["exact_shards_gold"]  # a reference: no verdict, even from runs that gave it one
    assert "pass" not in gold and gold["fails"] == {}


def test_a_gap_that_holds_on_the_means_fails():
    runs = [_run(s, 0.0833, 0.0208, 0.52) for s in range(3)]
    ex = pool_attack_runs(runs)["methods"]["exact_shards"]
    assert not ex["pass"]["relearn"] and ex["fails"]["relearn"] == 3
    assert "FAIL: relearn" in render_pooled_table(pool_attack_runs(runs))


def test_runs_without_the_attack_suite_are_refused():
    with pytest.raises(ValueError, match="--attacks"):
        pool_attack_runs([{"config": {"seed": 0}, "methods": {}}])
    with pytest.raises(ValueError):
        pool_attack_runs([])
