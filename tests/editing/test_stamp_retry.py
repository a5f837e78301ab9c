"""Which STAMP attempt an erasure keeps (services/model_jobs.EditJobs._stamp).

The default edit runs first; a stronger one follows when a fact still completes exactly or when
a continuation still shares a word with an erased answer (F-RL > 0: "Lyon" of "12 Rue de Lyon"
at the 32-memory bench size). Which attempt leaks what depends on the model; a deterministic
real case of each is not at hand, so `forget_in_model` is replaced here by a recorder that
writes the attempt's config into the staging directory and returns the figures the test sets.
The real edit and its verification are tested in test_stamp.py and test_ledger*.py."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace


import memoryd.editing as editing
from memoryd.editing.service import ForgetReport
from memoryd.services.model_jobs import EditJobs


def _report(out_dir: Path, exact: float, f_rl: float) -> ForgetReport:
    return ForgetReport(out_dir=str(out_dir), n_forget=1, n_retain=3, n_probes=3, layers=[0], solver="full",
                        edit_seconds=0.1, total_seconds=0.2, repair_rounds=0, forget_exact_before=1.0,
                        forget_exact_after=exact, forget_rouge_l_before=1.0, forget_rouge_l_after=f_rl,
                        retain_exact_before=1.0, retain_exact_after=1.0, retain_rouge_l_before=1.0,
                        retain_rouge_l_after=1.0, perplexity_before=3.0, perplexity_after=3.1)


def _run(tmp_path, monkeypatch, outcomes: list[tuple[float, float]]):
    """`outcomes`: (exact, F-RL) of the default edit, then of the stronger one."""
    calls: list[int] = []

    def fake_forget(src, staging, forget, retain, cfg, **kw):
        staging = Path(staging)
        assert not staging.exists()  # each attempt starts from an empty staging directory
        staging.mkdir(parents=True)
        (staging / "attempt.json").write_text(json.dumps({"repair_rounds": cfg.repair_rounds}))
        i = 0 if cfg.n_layers < 8 else 1
        calls.append(i)
        return _report(staging, *outcomes[i])

    monkeypatch.setattr(editing, "forget_in_model", fake_forget)
    jobs = SimpleNamespace(stamp_config=None, device="cpu")
    staging = tmp_path / "m.staging"
    report, reason = EditJobs._stamp(jobs, tmp_path / "m", staging, ["x"], ["y"], [])
    kept = json.loads((staging / "attempt.json").read_text())["repair_rounds"] if staging.exists() else None
    return report, reason, calls, kept


def test_a_clean_default_edit_is_kept(tmp_path, monkeypatch):
    report, reason, calls, kept = _run(tmp_path, monkeypatch, [(0.0, 0.0), (0.0, 0.0)])
    assert reason == "erased" and calls == [0] and kept == editing.StampConfig().repair_rounds


def test_a_leaked_word_runs_the_stronger_edit(tmp_path, monkeypatch):
    """No fact completes, but a word of an answer does: the stronger edit is tried and kept."""
    report, reason, calls, kept = _run(tmp_path, monkeypatch, [(0.0, 0.01), (0.0, 0.0)])
    assert reason == "erased" and calls == [0, 1] and report.forget_rouge_l_after == 0.0
    assert kept == editing.StampConfig().repair_rounds + 3  # the stronger attempt's weights are staged


def test_when_both_leak_a_word_the_lower_one_is_staged(tmp_path, monkeypatch):
    report, reason, calls, kept = _run(tmp_path, monkeypatch, [(0.0, 0.01), (0.0, 0.05)])
    assert reason == "erased" and report.forget_rouge_l_after == 0.01
    assert calls == [0, 1, 0] and kept == editing.StampConfig().repair_rounds  # the default, computed again


def test_a_fact_that_still_completes_is_not_erased(tmp_path, monkeypatch):
    report, reason, calls, _ = _run(tmp_path, monkeypatch, [(0.333, 0.4), (0.333, 0.3)])
    assert not report.erased and "still completes (exact rate 0.333)" in reason and calls == [0, 1]


def test_the_stronger_edit_completing_a_fact_falls_back_to_the_default(tmp_path, monkeypatch):
    report, reason, calls, kept = _run(tmp_path, monkeypatch, [(0.0, 0.02), (0.333, 0.1)])
    assert reason == "erased" and report.erased and calls == [0, 1, 0]
    assert kept == editing.StampConfig().repair_rounds


def test_an_edit_that_raises_withdraws(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(editing, "forget_in_model", boom)
    report, reason = EditJobs._stamp(SimpleNamespace(stamp_config=None, device="cpu"), tmp_path / "m",
                                     tmp_path / "s", ["x"], [], [])
    assert report is None and reason == "edit failed: RuntimeError"
