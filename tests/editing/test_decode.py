"""Shared-prefix greedy decoding of fact probes, and the one-pass layer walk, against the
plain implementations they replace."""

from __future__ import annotations

import torch

from memoryd.editing.decode import probe_continuations
from memoryd.editing.keys import KeySpec, all_positions, answer_positions, collect, edits_active, walk
from memoryd.editing.prompts import Probe, fact_probes
from memoryd.editing.stamp import StampConfig, compute_stamp_delta
from memoryd.editing.verify import greedy_continue, words

CPU = torch.device("cpu")


def _flat(tok, texts):
    probes = [fact_probes(t) for t in texts]
    flat = [p for ps in probes for p in ps]
    budgets = [len(tok(" " + p.answer, add_special_tokens=False)["input_ids"]) + 2 for p in flat]
    return probes, flat, budgets


def test_probe_continuations_equal_generate_with_and_without_an_edit(trained_lm):
    lm = trained_lm
    texts = lm.memories[:6]
    probes, flat, budgets = _flat(lm.tokenizer, texts)
    delta = compute_stamp_delta(lm.model, lm.tokenizer, texts[:2], lm.memories[6:], StampConfig(repair_rounds=0), CPU)
    for edits in ({}, delta.deltas):
        with edits_active(lm.model, edits):
            expected = greedy_continue(lm.model, lm.tokenizer, [p.prompt for p in flat], budgets, CPU)
            got = probe_continuations(lm.model, lm.tokenizer, texts, probes, budgets, CPU, texts_per_batch=4)
            n = [len(words(p.answer)) for p in flat]
            settled = probe_continuations(lm.model, lm.tokenizer, texts, probes, budgets, CPU, settle_words=n)
        assert got == expected
        assert all(words(a)[:k] == words(b)[:k] for a, b, k in zip(expected, settled, n))
        assert all(len(b) <= len(a) for a, b in zip(expected, settled))
    unedited = greedy_continue(lm.model, lm.tokenizer, [p.prompt for p in flat[:3]], budgets[:3], CPU)
    with edits_active(lm.model, delta.deltas):
        edited = greedy_continue(lm.model, lm.tokenizer, [p.prompt for p in flat[:3]], budgets[:3], CPU)
    assert edited != unedited  # the edit changed what the first memory's probes continue with


def test_probe_that_is_not_a_token_prefix_falls_back_to_generate(trained_lm):
    lm = trained_lm
    text = lm.memories[0]
    odd = Probe(text[:-1] + "?", "x")  # not a prefix of the text
    probes = [[*fact_probes(text), odd]]
    budgets = [4] * len(probes[0])
    got = probe_continuations(lm.model, lm.tokenizer, [text], probes, budgets, CPU)
    expected = greedy_continue(lm.model, lm.tokenizer, [p.prompt for p in probes[0]], budgets, CPU)
    assert got == expected


def test_walk_solves_layer_by_layer_like_collect_with_the_edits_below(random_lm):
    """walk's activations at each layer equal collect's with the lower layers' ΔW active."""
    lm = random_lm
    specs = [answer_positions(lm.tokenizer, lm.memories[0]), all_positions(lm.tokenizer, lm.memories[1])]
    g = torch.Generator().manual_seed(0)
    d, m = lm.model.config.hidden_size, lm.model.config.intermediate_size
    made = {layer: torch.randn(d, m, generator=g, dtype=torch.float64) * 0.01 for layer in (0, 1)}
    seen = {}

    def solve_layer(layer, acts):
        seen[layer] = acts
        return made[layer]

    assert not walk(lm.model, lm.tokenizer, specs, (0, 1), solve_layer, device=CPU, max_tokens=1)
    assert seen == {}  # over max_tokens: nothing ran
    assert walk(lm.model, lm.tokenizer, specs, (0, 1), solve_layer, device=CPU)
    assert list(seen) == [0, 1]
    ref0 = collect(lm.model, lm.tokenizer, specs, [0], device=CPU)[0]
    ref1 = collect(lm.model, lm.tokenizer, specs, [1], device=CPU, edits={0: made[0]})[1]
    for got, ref in ((seen[0], ref0), (seen[1], ref1)):
        assert torch.equal(got.owner, ref.owner)
        for a, b in ((got.keys, ref.keys), (got.values, ref.values), (got.hidden, ref.hidden)):
            assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
    unedited1 = collect(lm.model, lm.tokenizer, specs, [1], device=CPU)[1]
    assert not torch.allclose(seen[1].keys, unedited1.keys, atol=1e-5)  # the edit below was in effect
    assert seen[0].rows_of(1, 2).keys.shape[0] == len(specs[1].positions)


def test_walk_rejects_positions_past_the_text(random_lm):
    import pytest

    from memoryd.errors import EditingError

    lm = random_lm
    with pytest.raises(EditingError):
        walk(lm.model, lm.tokenizer, [KeySpec("short", (50,))], (0,), lambda layer, acts: None, device=CPU)


def test_a_cache_that_cannot_be_split_falls_back_to_generate(trained_lm, monkeypatch):
    from transformers import cache_utils

    lm = trained_lm
    texts = lm.memories[:2]
    probes, flat, budgets = _flat(lm.tokenizer, texts)
    expected = greedy_continue(lm.model, lm.tokenizer, [p.prompt for p in flat], budgets, CPU)
    for cls in (cache_utils.Cache, cache_utils.DynamicCache):
        if "batch_select_indices" in vars(cls):
            monkeypatch.delattr(cls, "batch_select_indices")
    assert not hasattr(cache_utils.DynamicCache(), "batch_select_indices")
    assert probe_continuations(lm.model, lm.tokenizer, texts, probes, budgets, CPU) == expected


def test_a_zero_budget_decodes_nothing(trained_lm):
    lm = trained_lm
    probes, flat, _ = _flat(lm.tokenizer, lm.memories[:1])
    budgets = [0] + [2] * (len(flat) - 1)
    got = probe_continuations(lm.model, lm.tokenizer, lm.memories[:1], probes, budgets, CPU)
    assert got[0] == "" and all(got[1:])
