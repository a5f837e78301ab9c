"""Adapt -> STAMP erase -> verify, on a tiny model trained on synthetic profiles."""

from __future__ import annotations

import json
import statistics

import pytest
import torch

from memoryd.editing.baselines import GAConfig, gradient_ascent, selective_synaptic_dampening
from memoryd.editing.bench import render_unlearn_table, run_unlearn_benchmark
from memoryd.editing.loading import save_model
from memoryd.editing.prompts import fact_probes
from memoryd.editing.service import adapt_on_memories, forget_in_model
from memoryd.editing.stamp import StampConfig, apply_delta, compute_stamp_delta, revert_delta
from memoryd.editing.tiny import TINY_TEST, build_tiny
from memoryd.editing.verify import extraction_report, greedy_continue, words

CPU = torch.device("cpu")


def _completes(lm, text: str) -> list[bool]:
    probes = fact_probes(text)
    preds = greedy_continue(lm.model, lm.tokenizer, [p.prompt for p in probes], 12, CPU)
    return [words(pred)[: len(words(p.answer))] == words(p.answer) for p, pred in zip(probes, preds)]


@pytest.mark.parametrize("solver", ["full", "lowrank"])
def test_stamp_erases_one_memory_and_keeps_the_others(trained_lm, solver):
    lm = trained_lm
    forget, retain = lm.memories[0], lm.memories[1:]
    assert all(_completes(lm, forget)) and all(_completes(lm, retain[0]))
    before = {k: v.clone() for k, v in lm.model.state_dict().items()}
    delta = compute_stamp_delta(lm.model, lm.tokenizer, [forget], retain, StampConfig(solver=solver), CPU)
    apply_delta(lm.model, delta)
    try:
        assert not any(_completes(lm, forget)), "an erased fact still completes greedily"
        assert all(_completes(lm, retain[0])), "an unrelated memorised fact was lost"
        f = extraction_report(lm.model, lm.tokenizer, [forget], device=CPU)
        r = extraction_report(lm.model, lm.tokenizer, retain, device=CPU)
        assert f.exact_rate == 0.0 and f.rouge_l <= 0.1
        assert r.rouge_l >= 0.95 and r.exact_rate >= 0.9
    finally:
        revert_delta(lm.model, delta)
    assert all(torch.equal(before[k], v) for k, v in lm.model.state_dict().items())
    assert all(_completes(lm, forget))  # reverting brings the memory back: the edit was the cause


def test_forget_in_model_saves_verifies_and_leaks_no_text(trained_lm, tmp_path):
    lm = trained_lm
    src, dst = tmp_path / "model", tmp_path / "edited"
    save_model(lm.model, lm.tokenizer, src)
    forget, retain = lm.memories[1:2], lm.memories[2:]
    report = forget_in_model(src, dst, forget, retain, heldout_texts=lm.heldout)
    assert (dst / "config.json").is_file()
    assert report.erased and report.forget_exact_before == 1.0 and report.forget_exact_after == 0.0
    assert report.retain_ratio >= 0.95
    assert report.perplexity_after < 2 * report.perplexity_before
    blob = json.dumps(report.to_dict())
    for p in fact_probes(forget[0]):
        assert p.answer not in blob and p.answer.lower() not in blob.lower()
    assert forget[0].split("'")[0] not in blob  # not even the name


def test_adapt_on_memories_reports_absorbed_ids(tmp_path):
    from memoryd.editing.adapt import AdaptConfig
    from memoryd.editing.profiles import make_profiles

    texts = [p.text for p in make_profiles(4, seed=3)]
    build_tiny(texts, tmp_path / "base", TINY_TEST)
    memories = {f"m{i}": t for i, t in enumerate(texts)}
    out = adapt_on_memories(tmp_path / "base", tmp_path / "adapted", memories,
                            AdaptConfig(max_epochs=150, lr=3e-3, batch_size=4, check_every=5, warmup_steps=5))
    assert sorted(out.absorbed_ids + out.not_absorbed_ids) == sorted(memories)
    assert len(out.absorbed_ids) >= 3, out
    assert (tmp_path / "adapted" / "config.json").is_file()


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
    assert set(r["methods"]) == {"stamp", "stamp_lowrank", "stamp_no_repair", "gradient_ascent", "ssd", "retrain"}
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
    json.dumps(r)


def test_lora_adaptation_is_merged_before_saving(tmp_path):
    from transformers import AutoModelForCausalLM

    from memoryd.editing.adapt import AdaptConfig, adapt_model
    from memoryd.editing.profiles import make_profiles

    texts = [p.text for p in make_profiles(2, seed=4)]
    build_tiny(texts, tmp_path / "base", TINY_TEST)
    res = adapt_model(tmp_path / "base", texts, tmp_path / "lora",
                      AdaptConfig(lora=True, lora_r=8, max_epochs=3, check_absorbed=False))
    assert res.epochs == 3 and res.final_loss > 0
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "lora", local_files_only=True)
    base = AutoModelForCausalLM.from_pretrained(tmp_path / "base", local_files_only=True)
    names = [n for n, _ in merged.named_parameters()]
    assert not any("lora" in n for n in names)
    assert names == [n for n, _ in base.named_parameters()]
    changed = [n for (n, a), (_, b) in zip(merged.named_parameters(), base.named_parameters()) if not torch.equal(a, b)]
    assert any("down_proj" in n for n in changed)
