"""STAMP on a tiny random model: deltas are pure, exact where they should be, and revertible."""

from __future__ import annotations

import pytest
import torch

from memoryd.errors import EditingError
from memoryd.editing.keys import all_positions, answer_positions, collect, down_proj, edits_active
from memoryd.editing.prompts import REFUSAL_PROMPTS
from memoryd.editing.solve import SolveInputs, solve_full
from memoryd.editing.stamp import StampConfig, apply_delta, compute_stamp_delta, revert_delta
from memoryd.editing.values import refusal_subspace, target_values

CPU = torch.device("cpu")
CFG = StampConfig(layers=(1,), repair_rounds=0)


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_compute_does_not_mutate_the_model(random_lm):
    lm = random_lm
    before = _state(lm.model)
    delta = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:2], lm.memories[2:], StampConfig(), CPU)
    assert _same(before, _state(lm.model))
    assert delta.deltas and not delta.applied
    assert all(torch.count_nonzero(d) > 0 for d in delta.deltas.values())


def test_apply_then_revert_restores_identical_weights(random_lm):
    lm = random_lm
    before = _state(lm.model)
    delta = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:2], lm.memories[2:], StampConfig(), CPU)
    apply_delta(lm.model, delta)
    try:
        assert not _same(before, _state(lm.model))
        with pytest.raises(EditingError):
            apply_delta(lm.model, delta)  # twice
    finally:
        revert_delta(lm.model, delta)
    assert _same(before, _state(lm.model))
    with pytest.raises(EditingError):
        revert_delta(lm.model, delta)  # not applied any more


def test_stacked_edits_must_be_reverted_in_reverse_order(random_lm):
    lm = random_lm
    before = _state(lm.model)
    d1 = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:1], lm.memories[2:], CFG, CPU)
    apply_delta(lm.model, d1)
    d2 = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[1:2], lm.memories[2:], CFG, CPU)
    apply_delta(lm.model, d2)
    with pytest.raises(EditingError):
        revert_delta(lm.model, d1)
    revert_delta(lm.model, d2)
    revert_delta(lm.model, d1)
    assert _same(before, _state(lm.model))


def test_edited_keys_map_to_targets_and_retain_keys_barely_move(random_lm):
    """Recompute the edit by hand from keys.py/values.py and check W' k ≈ v* in the model."""
    lm, layer = random_lm, 1
    forget = [answer_positions(lm.tokenizer, lm.memories[0])]
    retain = [all_positions(lm.tokenizer, t) for t in lm.memories[1:]]
    refusal = [all_positions(lm.tokenizer, t) for t in REFUSAL_PROMPTS]
    f = collect(lm.model, lm.tokenizer, forget, [layer], device=CPU)[layer]
    r = collect(lm.model, lm.tokenizer, retain, [layer], device=CPU)[layer]
    ref = collect(lm.model, lm.tokenizer, refusal, [layer], device=CPU)[layer]
    w = down_proj(lm.model, layer).weight.detach().double()  # (d, m)
    v = f.keys @ w.T  # (n, d)
    assert torch.allclose(v, f.values, atol=1e-4)  # hooks saw exactly W k
    v_star = target_values(v, refusal_subspace(ref.hidden, 8), hidden=f.hidden)  # (n, d)
    dw = solve_full(SolveInputs(w, f.keys, v_star, r.keys, retain_weight=1.0, ridge=1e-8))

    fit = (f.keys @ (w + dw).T - v_star).norm() / (v_star - v).norm()
    retain_move = (r.keys @ dw.T).norm() / (r.keys @ w.T).norm()
    forget_move = (f.keys @ dw.T).norm() / (f.keys @ w.T).norm()
    assert fit < 0.05, fit
    assert retain_move < 0.1 * forget_move, (retain_move, forget_move)

    # the same edit through the public API (single layer, no repair, the exact solver) agrees
    delta = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:1], lm.memories[1:],
                                StampConfig(layers=(layer,), repair_rounds=0, ridge=1e-8, refusal_rank=8,
                                            solver="full", question_forms=False), CPU, torch.float64)
    # to rounding: the API solves the dual form (fewer retain keys than m) of this ill-conditioned system
    assert float((delta.deltas[layer] - dw).norm() / dw.norm()) < 1e-5
    assert delta.stats[0].fit_error < 0.05


def test_hooked_edit_matches_applied_edit(random_lm):
    lm = random_lm
    delta = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:2], lm.memories[2:], StampConfig(), CPU)
    ids = lm.tokenizer(lm.memories[0], return_tensors="pt")["input_ids"]
    with torch.no_grad(), edits_active(lm.model, delta.deltas):
        hooked = lm.model(input_ids=ids).logits
    apply_delta(lm.model, delta)
    try:
        with torch.no_grad():
            applied = lm.model(input_ids=ids).logits
    finally:
        revert_delta(lm.model, delta)
    assert torch.allclose(hooked, applied, atol=1e-4)


def test_bad_requests_raise_editing_error(random_lm):
    lm = random_lm
    with pytest.raises(EditingError):
        compute_stamp_delta(lm.model, lm.tokenizer, [], lm.memories, StampConfig(), CPU)
    with pytest.raises(EditingError):
        compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:1], [], StampConfig(layers=(7,)), CPU)
    with pytest.raises(ValueError):
        StampConfig(positions="everywhere")


def test_lowrank_with_full_rank_matches_full_solve_in_the_model(random_lm):
    lm = random_lm
    m = lm.model.config.intermediate_size
    common = dict(layers=(0, 1), repair_rounds=0)
    full = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:2], lm.memories[2:],
                               StampConfig(solver="full", **common), CPU, torch.float64)
    low = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:2], lm.memories[2:],
                              StampConfig(solver="lowrank", rank=m, **common), CPU, torch.float64)
    for layer in (0, 1):
        assert torch.allclose(low.deltas[layer], full.deltas[layer], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("solver", "tile"), [("full", 1), ("full", 3), ("lowrank", 1), ("lowrank", 3)])
def test_prepared_retain_solve_matches_solve_module(random_lm, solver, tile):
    """The per-layer retain preparation reused across repair rounds gives solve.solve's ΔW: with
    fewer retain keys than m (full: dual form; lowrank: subspace from the small Gram) and with
    more (tile 3: primal form; randomized subspace)."""
    from memoryd.editing.solve import solve
    from memoryd.editing.retain import PreparedRetain as _Retain

    lm, layer = random_lm, 1
    forget = [answer_positions(lm.tokenizer, t) for t in lm.memories[:2]]
    retain = [all_positions(lm.tokenizer, t) for t in lm.memories[2:]]
    f = collect(lm.model, lm.tokenizer, forget, [layer], device=CPU)[layer]
    kr = collect(lm.model, lm.tokenizer, retain, [layer], device=CPU)[layer].keys
    kr = torch.cat([kr * (1 + 0.1 * i) for i in range(tile)])  # (tile·n_r, m)
    m = lm.model.config.intermediate_size
    assert (kr.shape[0] <= m) == (tile == 1)
    cfg = StampConfig(solver=solver, rank=16)
    prep = _Retain.prepare(kr, down_proj(lm.model, layer).weight, cfg)
    assert (prep.kernel is not None, prep.gram is not None) == ((tile == 1, tile > 1) if solver == "full" else (False, False))
    w = prep.weight
    v = f.keys @ w.T
    x = SolveInputs(w, f.keys, v + 0.1 * torch.randn_like(v, dtype=torch.float64), kr, cfg.retain_weight, cfg.ridge)
    expected = solve(x, solver, rank=cfg.rank)
    got = prep.solve(x)
    assert torch.allclose(got, expected, rtol=1e-7, atol=1e-10)
    st = prep.stats(layer, x, got)
    assert st.n_retain_keys == kr.shape[0] and st.fit_error < 1.0


def test_retain_keys_read_once_unless_exact(random_lm, monkeypatch):
    """Retain keys: one unedited pass for every layer and round; exact_retain reads them in each
    round's layer-by-layer pass instead, with the edits below in effect."""
    import memoryd.editing.stamp as stamp

    lm = random_lm
    collected: list[int] = []
    walked: list[int] = []
    real_collect, real_walk = stamp.collect, stamp.walk

    def counting_collect(model, tok, specs, layers, **kw):
        collected.append(len(specs))
        return real_collect(model, tok, specs, layers, **kw)

    def counting_walk(model, tok, specs, layers, solve_layer, **kw):
        walked.append(len(specs))
        return real_walk(model, tok, specs, layers, solve_layer, **kw)

    monkeypatch.setattr(stamp, "collect", counting_collect)
    monkeypatch.setattr(stamp, "walk", counting_walk)
    from memoryd.editing.prompts import question_forms

    retain = lm.memories[2:]
    n_refusal = len(StampConfig().refusal_prompts)
    n_forget = 2 + sum(len(question_forms(t)) for t in lm.memories[:2])  # texts + their questions
    fast = stamp.compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:2], retain,
                                     StampConfig(layers=(0, 1), repair_rounds=0), CPU, torch.float64)
    assert collected == [len(retain)] and walked == [n_forget + n_refusal]  # one pass solves both layers
    collected.clear()
    walked.clear()
    exact = stamp.compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:2], retain,
                                      StampConfig(layers=(0, 1), repair_rounds=0, exact_retain=True), CPU,
                                      torch.float64)
    assert collected == [] and walked == [n_forget + n_refusal + len(retain)]
    # the lowest layer sees no edit below it: both ways agree there (to rounding: other batches)
    assert float((fast.deltas[0] - exact.deltas[0]).norm() / fast.deltas[0].norm()) < 1e-5
    assert not torch.allclose(fast.deltas[1], exact.deltas[1], rtol=1e-3)  # above it they differ


def test_big_batches_are_solved_layer_by_layer_with_the_same_result(random_lm):
    """Over walk_tokens the one-pass walk gives way to a batched pass per layer: same deltas."""
    lm = random_lm
    common = dict(layers=(0, 1), repair_rounds=1, batch_size=3)
    one_pass = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:2], lm.memories[2:],
                                   StampConfig(**common), CPU, torch.float64)
    per_layer = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:2], lm.memories[2:],
                                    StampConfig(walk_tokens=1, **common), CPU, torch.float64)
    for layer in (0, 1):
        a, b = one_pass.deltas[layer], per_layer.deltas[layer]
        assert float((a - b).norm() / a.norm()) < 1e-4


def test_question_forms_add_forget_keys_at_the_answers_after_the_questions(random_lm):
    from memoryd.editing.keys import probe_positions
    from memoryd.editing.prompts import question_forms

    lm = random_lm
    q = question_forms(lm.memories[0])[0]
    spec = probe_positions(lm.tokenizer, q)
    ids = lm.tokenizer(spec.text)["input_ids"]
    predicted = lm.tokenizer.decode([ids[p + 1] for p in spec.positions])
    assert predicted.strip() == q.answer  # the positions predict exactly the answer's tokens
    cfg = StampConfig(layers=(1,), repair_rounds=0, solver="full", question_forms=False)
    plain = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:1], lm.memories[1:], cfg, CPU)
    asked = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:1], lm.memories[1:],
                                StampConfig(layers=(1,), repair_rounds=0, solver="full", question_forms=True), CPU)
    n_q = sum(len(probe_positions(lm.tokenizer, p).positions) for p in question_forms(lm.memories[0]))
    assert asked.stats[0].n_forget_keys == plain.stats[0].n_forget_keys + n_q
    assert asked.stats[0].fit_error < 0.5


def test_auto_solver_is_exact_where_that_is_cheap(random_lm):
    from memoryd.editing.retain import AUTO_FULL_MAX, resolve_solver

    assert resolve_solver("auto", 500, 1536) == "full"  # dual form, 500 x 500
    assert resolve_solver("auto", 5000, 1536) == "full"  # primal form, 1536 x 1536
    assert resolve_solver("auto", 5000, 8192) == "lowrank"  # either system would be wide
    assert resolve_solver("auto", AUTO_FULL_MAX, 8192) == "full"
    assert resolve_solver("lowrank", 10, 10) == "lowrank"
    lm = random_lm
    common = dict(layers=(0, 1), repair_rounds=0)
    auto = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:2], lm.memories[2:], StampConfig(**common), CPU,
                               torch.float64)
    full = compute_stamp_delta(lm.model, lm.tokenizer, lm.memories[:2], lm.memories[2:],
                               StampConfig(solver="full", **common), CPU, torch.float64)
    assert {s.solver for s in auto.stats} == {"full"}
    for layer in (0, 1):
        assert torch.equal(auto.deltas[layer], full.deltas[layer])
    with pytest.raises(ValueError):
        StampConfig(solver="magic")


def test_large_retain_sets_choose_layers_before_reading_retain_keys(random_lm, monkeypatch):
    """Retain keys ride along with the layer choice (every layer) only while that fits the
    activation budget; past it, layers are chosen first and retain keys read only there."""
    import memoryd.editing.stamp as stamp

    lm = random_lm
    passes: list[tuple[int, tuple[int, ...]]] = []
    real_collect = stamp.collect

    def counting_collect(model, tok, specs, layers, **kw):
        passes.append((len(specs), tuple(layers)))
        return real_collect(model, tok, specs, layers, **kw)

    monkeypatch.setattr(stamp, "collect", counting_collect)
    forget, retain = lm.memories[:2], lm.memories[2:]
    cfg = StampConfig(repair_rounds=0, n_layers=1, solver="full")
    merged = compute_stamp_delta(lm.model, lm.tokenizer, forget, retain, cfg, CPU, torch.float64)
    n_refusal = len(cfg.refusal_prompts)
    assert passes == [(2 + n_refusal + len(retain), (0, 1))]
    passes.clear()
    monkeypatch.setattr(stamp, "ACTIVATION_BUDGET", 1)
    split = compute_stamp_delta(lm.model, lm.tokenizer, forget, retain, cfg, CPU, torch.float64)
    assert passes == [(2 + n_refusal, (0, 1)), (len(retain), split.layers)]
    assert split.layers == merged.layers
    for layer in split.layers:
        assert float((split.deltas[layer] - merged.deltas[layer]).norm() / merged.deltas[layer].norm()) < 1e-4
