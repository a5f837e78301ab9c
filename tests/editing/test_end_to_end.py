"""Adapt -> STAMP erase -> verify, on a tiny model trained on synthetic profiles."""

from __future__ import annotations

import json

import pytest
import torch

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
    from corpus_helpers import make_profiles

    texts = [p.text for p in make_profiles(4, seed=3)]
    build_tiny(texts, tmp_path / "base", TINY_TEST)
    memories = {f"m{i}": t for i, t in enumerate(texts)}
    out = adapt_on_memories(tmp_path / "base", tmp_path / "adapted", memories,
                            AdaptConfig(max_epochs=150, lr=3e-3, batch_size=4, check_every=5, warmup_steps=5))
    assert sorted(out.absorbed_ids + out.not_absorbed_ids) == sorted(memories)
    assert len(out.absorbed_ids) >= 3, out
    assert (tmp_path / "adapted" / "config.json").is_file()


def test_lora_adaptation_is_merged_before_saving(tmp_path):
    from transformers import AutoModelForCausalLM

    from memoryd.editing.adapt import AdaptConfig, adapt_model
    from corpus_helpers import make_profiles

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
