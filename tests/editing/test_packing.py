"""Prefix-sharing packing of key batches: the same activations as one padded row per text."""

from __future__ import annotations

import copy

import pytest
import torch

from memoryd.editing import keys
from memoryd.editing.keys import KeySpec, all_positions, answer_positions, collect, probe_positions
from memoryd.editing.packing import pack, supports_packing
from memoryd.editing.prompts import REFUSAL_PROMPTS, question_forms
from memoryd.editing.tokens import encode

CPU = torch.device("cpu")


def _stamp_like_specs(lm) -> list[KeySpec]:
    """What one STAMP walk reads: memories, their fact questions, refusal prompts."""
    texts = lm.memories[:3]
    specs = [answer_positions(lm.tokenizer, t) for t in texts]
    specs += [sp for t in texts for q in question_forms(t) if (sp := probe_positions(lm.tokenizer, q))]
    specs += [all_positions(lm.tokenizer, t) for t in REFUSAL_PROMPTS]
    return specs


def _unpacked(monkeypatch) -> None:
    monkeypatch.setattr(keys, "supports_packing", lambda model: False)


def test_questions_share_their_memory_prefix_and_rows_shrink(random_lm):
    lm = random_lm
    specs = _stamp_like_specs(lm)
    seqs = [encode(lm.tokenizer, sp.text) for sp in specs]
    p = pack(seqs, [sp.positions for sp in specs], lm.tokenizer.pad_token_id)
    assert p.real_tokens < sum(map(len, seqs)) * 0.75  # the questions' contexts are not run again
    assert p.input_ids.numel() < len(seqs) * max(map(len, seqs)) / 2  # and rows are filled, not padded
    # every requested position is there once, in spec order, holding the token it asked for
    assert p.owner.tolist() == [i for i, sp in enumerate(specs) for _ in sp.positions]
    want = [seqs[i][q] for i, sp in enumerate(specs) for q in sp.positions]
    assert p.input_ids[p.rows, p.cols].tolist() == want
    assert p.position_ids[p.rows, p.cols].tolist() == [q for sp in specs for q in sp.positions]
    # each token attends to itself, never ahead of its own position
    b, t, _ = p.allowed.shape
    assert bool(p.allowed[:, torch.arange(t), torch.arange(t)].all())
    r, j, i = p.allowed.nonzero(as_tuple=True)
    assert bool((p.position_ids[r, i] <= p.position_ids[r, j]).all())


def test_short_common_starts_are_not_shared():
    seqs = [[1, 5, 6, 7, 8, 9], [1, 5, 10, 11, 12, 13], [1, 5, 6, 7, 8, 20]]
    p = pack(seqs, [(5,), (5,), (5,)], pad=0)
    # the second shares 2 of 6 tokens: not worth it; the third shares 5 of 6: one token run
    assert p.real_tokens == 6 + 6 + 1
    third = p.cols[2], p.rows[2]
    assert p.input_ids[third[1], third[0]] == 20 and p.position_ids[third[1], third[0]] == 5


def test_a_text_that_is_a_prefix_of_another_runs_no_tokens():
    p = pack([[1, 2, 3, 4, 5], [1, 2, 3]], [(4,), (1, 2)], pad=0)
    assert p.real_tokens == 5 and p.input_ids.shape == (1, 5)
    assert p.cols.tolist() == [4, 1, 2] and p.rows.tolist() == [0, 0, 0]


def test_bad_positions_raise():
    with pytest.raises(ValueError):
        pack([[1, 2, 3]], [(3,)], pad=0)
    with pytest.raises(ValueError):
        pack([[1, 2]], [(1,), (1,)], pad=0)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_activations_equal_one_row_per_text(random_lm, monkeypatch, attention):
    """Both attention kinds (boolean mask for sdpa, additive for eager) give the activations of
    plain right-padded rows, to float32 rounding."""
    lm = random_lm
    model = copy.deepcopy(lm.model)
    model.config._attn_implementation = attention
    assert supports_packing(model)
    specs = _stamp_like_specs(lm)
    packed_batch = keys._batch(model, lm.tokenizer, specs, CPU)
    assert packed_batch.inputs["attention_mask"].dim() == 4
    packed = collect(model, lm.tokenizer, specs, [0, 1], device=CPU, batch_size=len(specs))
    _unpacked(monkeypatch)
    plain = collect(model, lm.tokenizer, specs, [0, 1], device=CPU, batch_size=len(specs))
    for layer in (0, 1):
        a, b = packed[layer], plain[layer]
        assert torch.equal(a.owner, b.owner)
        for x, y in ((a.keys, b.keys), (a.values, b.values), (a.hidden, b.hidden)):
            assert torch.allclose(x, y, rtol=1e-4, atol=1e-5 * float(y.abs().max()))


def test_other_attention_kinds_get_padded_rows(random_lm):
    lm = random_lm
    model = copy.deepcopy(lm.model)
    model.config._attn_implementation = "flash_attention_2"
    assert not supports_packing(model)
    batch = keys._batch(model, lm.tokenizer, _stamp_like_specs(lm), CPU)
    assert batch.inputs["attention_mask"].dim() == 2 and "position_ids" not in batch.inputs


def test_walk_solves_the_same_deltas_packed_or_not(random_lm, monkeypatch):
    from memoryd.editing.stamp import StampConfig, compute_stamp_delta

    lm = random_lm
    cfg = StampConfig(layers=(0, 1), repair_rounds=0, solver="full")
    packed = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:3], lm.memories[3:], cfg, CPU, torch.float64)
    _unpacked(monkeypatch)
    plain = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:3], lm.memories[3:], cfg, CPU, torch.float64)
    for layer in (0, 1):
        a, b = packed.deltas[layer], plain.deltas[layer]
        assert float((a - b).norm() / b.norm()) < 1e-3


def test_collect_chunks_by_tokens():
    assert keys._chunks([5, 5, 5, 5, 5], 2, None) == [(0, 2), (2, 4), (4, 5)]
    assert keys._chunks([5, 5, 5, 5, 5], 2, 12) == [(0, 2), (2, 4), (4, 5)]  # 3 rows of 5 > 12
    assert keys._chunks([4, 4, 9, 2], 32, 18) == [(0, 2), (2, 4)]  # padded to the longest
    assert keys._chunks([30, 2], 32, 10) == [(0, 1), (1, 2)]  # one text over the budget still runs
