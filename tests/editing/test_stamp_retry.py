"""Which STAMP attempt an erasure keeps (services/model_jobs.EditJobs._stamp).

The default edit runs first; stronger ones follow (`escalation`) while a fact still completes
exactly or a continuation still shares a word with an erased answer (F-RL > 0: "Lyon" of "12
Rue de Lyon" at the 32-memory bench size). Which attempt leaks what depends on the model, so
the choice among attempts is tested with `forget_in_model` replaced by a recorder that writes
the attempt's config into the staging directory and returns the figures the test sets. The
last test runs the real escalation on a real tiny GPT-2 the default edit does not erase."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace


import memoryd.editing as editing
from memoryd.editing.service import ForgetReport
from memoryd.services.model_jobs import SHARP_REFUSAL_RANK, EditJobs, escalation

DEFAULT = editing.StampConfig()


def _report(out_dir: Path, exact: float, f_rl: float, retain: float = 1.0) -> ForgetReport:
    return ForgetReport(out_dir=str(out_dir), n_forget=1, n_retain=3, n_probes=3, layers=[0], solver="full",
                        edit_seconds=0.1, total_seconds=0.2, repair_rounds=0, forget_exact_before=1.0,
                        forget_exact_after=exact, forget_rouge_l_before=1.0, forget_rouge_l_after=f_rl,
                        retain_exact_before=1.0, retain_exact_after=1.0, retain_rouge_l_before=1.0,
                        retain_rouge_l_after=retain, perplexity_before=3.0, perplexity_after=3.1)


def _run(tmp_path, monkeypatch, outcomes: list[tuple[float, ...]]):
    """`outcomes`: (exact, F-RL[, retain R-RL ratio]) of the default, stronger, sharper edit."""
    calls: list[int] = []

    def fake_forget(src, staging, forget, retain, cfg, **kw):
        staging = Path(staging)
        assert not staging.exists()  # each attempt starts from an empty staging directory
        staging.mkdir(parents=True)
        (staging / "attempt.json").write_text(json.dumps({"repair_rounds": cfg.repair_rounds,
                                                          "refusal_rank": cfg.refusal_rank}))
        i = 0 if cfg.n_layers < 8 else 1 if cfg.refusal_rank > SHARP_REFUSAL_RANK else 2
        calls.append(i)
        return _report(staging, *outcomes[i])

    monkeypatch.setattr(editing, "forget_in_model", fake_forget)
    jobs = SimpleNamespace(stamp_config=None, device="cpu")
    staging = tmp_path / "m.staging"
    report, reason = EditJobs._stamp(jobs, tmp_path / "m", staging, ["x"], ["y"], [])
    kept = json.loads((staging / "attempt.json").read_text()) if staging.exists() else None
    return report, reason, calls, kept


def test_the_escalation():
    base, stronger, sharper = escalation(DEFAULT)
    assert base == DEFAULT
    assert (stronger.solver, stronger.n_layers, stronger.repair_rounds) == ("full", 8, DEFAULT.repair_rounds + 3)
    assert sharper.refusal_rank == SHARP_REFUSAL_RANK < DEFAULT.refusal_rank and sharper.n_layers == 8
    assert len(escalation(editing.StampConfig(refusal_rank=4))) == 2  # nothing sharper to try


def test_a_clean_default_edit_is_kept(tmp_path, monkeypatch):
    report, reason, calls, kept = _run(tmp_path, monkeypatch, [(0.0, 0.0)] * 3)
    assert reason == "erased by the default edit (1 of 1 tried)" and calls == [0]
    assert kept["repair_rounds"] == DEFAULT.repair_rounds


def test_a_leaked_word_runs_the_stronger_edit(tmp_path, monkeypatch):
    """No fact completes, but a word of an answer does: the stronger edit is tried and kept."""
    report, reason, calls, kept = _run(tmp_path, monkeypatch, [(0.0, 0.01), (0.0, 0.0), (0.0, 0.0)])
    assert reason == "erased by the stronger edit (2 of 2 tried)" and calls == [0, 1]
    assert report.forget_rouge_l_after == 0.0
    assert kept["repair_rounds"] == DEFAULT.repair_rounds + 3  # the stronger attempt's weights are staged


def test_the_sharper_edit_comes_last(tmp_path, monkeypatch):
    report, reason, calls, kept = _run(tmp_path, monkeypatch, [(0.333, 0.3), (0.333, 0.3), (0.0, 0.0)])
    assert reason == "erased by the sharper edit (3 of 3 tried)" and calls == [0, 1, 2]
    assert kept["refusal_rank"] == SHARP_REFUSAL_RANK


def test_when_every_attempt_leaks_a_word_the_lowest_is_staged(tmp_path, monkeypatch):
    report, reason, calls, kept = _run(tmp_path, monkeypatch, [(0.0, 0.01), (0.0, 0.05), (0.0, 0.03)])
    assert reason == "erased by the default edit (1 of 3 tried)" and report.forget_rouge_l_after == 0.01
    assert calls == [0, 1, 2, 0] and kept["repair_rounds"] == DEFAULT.repair_rounds  # the default, again


def test_a_leaked_word_is_not_traded_for_the_kept_memories(tmp_path, monkeypatch):
    """Measured on the 26M bench model erasing 32 memories: default F-RL 0.0035 with R-RL 1.000
    of before, stronger F-RL 0 with 0.691, sharper F-RL 0.0052 with 0.658. The default stays."""
    report, reason, calls, kept = _run(tmp_path, monkeypatch, [(0.0, 0.0035, 1.0), (0.0, 0.0, 0.691),
                                                               (0.0, 0.0052, 0.658)])
    assert reason == "erased by the default edit (1 of 3 tried)" and calls == [0, 1, 2, 0]
    assert kept["repair_rounds"] == DEFAULT.repair_rounds and report.forget_rouge_l_after == 0.0035 and report.retain_ratio == 1.0


def test_an_exact_completion_is_never_traded_for_retain(tmp_path, monkeypatch):
    """A fact that still completes must go, even at a cost to the kept memories."""
    report, reason, calls, kept = _run(tmp_path, monkeypatch, [(0.333, 0.3, 1.0), (0.0, 0.0, 0.7), (0.0, 0.0, 0.8)])
    assert reason == "erased by the sharper edit (3 of 3 tried)" and calls == [0, 1, 2]
    assert kept["refusal_rank"] == SHARP_REFUSAL_RANK and report.retain_ratio == 0.8  # both erase: the one keeping more


def test_a_fact_that_still_completes_is_not_erased(tmp_path, monkeypatch):
    report, reason, calls, _ = _run(tmp_path, monkeypatch, [(0.333, 0.4), (0.333, 0.3), (0.333, 0.3)])
    assert not report.erased and "still completes (exact rate 0.333)" in reason and calls == [0, 1, 2]


def test_later_edits_completing_a_fact_fall_back_to_the_default(tmp_path, monkeypatch):
    report, reason, calls, kept = _run(tmp_path, monkeypatch, [(0.0, 0.02), (0.333, 0.1), (0.333, 0.1)])
    assert reason == "erased by the default edit (1 of 3 tried)" and report.erased and calls == [0, 1, 2, 0]
    assert kept["repair_rounds"] == DEFAULT.repair_rounds
def test_an_edit_that_raises_withdraws(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(editing, "forget_in_model", boom)
    report, reason = EditJobs._stamp(SimpleNamespace(stamp_config=None, device="cpu"), tmp_path / "m",
                                     tmp_path / "s", ["x"], [], [])
    assert report is None and reason == "edit failed: RuntimeError"


def test_the_escalation_erases_what_the_default_leaves_on_a_real_gpt2(tmp_path, monkeypatch):
    """A real 3-layer, 64-wide GPT-2 trained on 8 profiles (the test_families shape): erasing
    the first alone, the default and the stronger edit leave one of its 3 probes completed
    (seen: exact 0.333 after both); the sharper refusal subspace erases it, saved weights and
    the real verification throughout, and the kept memories stay completed."""
    import torch

    from corpus_helpers import make_profiles, refusal_corpus
    from memoryd.editing.adapt import AdaptConfig, train_on_texts
    from memoryd.editing.loading import save_model
    from memoryd.editing.tiny import TinyConfig, build_family, train_tokenizer
    from memoryd.editing.verify import extraction_report

    texts = [p.text for p in make_profiles(8, seed=1)]
    tok = train_tokenizer(texts + refusal_corpus(1), 512)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = build_family("gpt2", TinyConfig(hidden_size=64, intermediate_size=256, num_hidden_layers=3,
                                                num_attention_heads=4, num_key_value_heads=2), len(tok))
        train_on_texts(model, tok, texts + refusal_corpus(2), AdaptConfig(
            max_epochs=150, lr=5e-3, batch_size=8, check_every=5, settle_epochs=3, warmup_steps=5),
            must_reproduce=texts)
        assert extraction_report(model, tok, texts, device=torch.device("cpu")).exact_rate == 1.0
        src = tmp_path / "gpt2-lm"
        save_model(model, tok, src)
        seen: list[tuple[int, float]] = []
        real = editing.forget_in_model

        def spy(*a, **k):
            r = real(*a, **k)
            seen.append((a[4].refusal_rank, r.forget_exact_after))
            return r

        monkeypatch.setattr(editing, "forget_in_model", spy)
        report, reason = EditJobs._stamp(SimpleNamespace(stamp_config=None, device="cpu"), src,
                                         tmp_path / "staged", texts[:1], texts[1:], [])
    finally:
        torch.set_num_threads(threads)
    assert seen[0][1] > 0.0, seen  # the default edit leaves a fact completed: the case this is about
    assert reason == "erased by the sharper edit (3 of 3 tried)", seen
    assert report.erased and report.forget_rouge_l_after == 0.0
    assert seen[-1][0] == SHARP_REFUSAL_RANK and report.retain_exact_after >= report.retain_exact_before - 0.05
