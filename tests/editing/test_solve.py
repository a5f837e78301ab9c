"""Closed-form solves on synthetic keys: targets reached, retain keys kept, solvers agree."""

from __future__ import annotations

import pytest
import torch

from memoryd.editing.solve import (
    SolveInputs,
    key_subspace,
    retain_subspace,
    solve,
    solve_full,
    solve_krylov,
    solve_lowrank,
    solve_nullspace,
)

D, M = 16, 48


def _inputs(n: int = 5, n_r: int = 30, retain_weight: float = 1.0, ridge: float = 1e-10, seed: int = 0) -> SolveInputs:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(D, M, generator=g, dtype=torch.float64)
    k = torch.randn(n, M, generator=g, dtype=torch.float64)
    v = torch.randn(n, D, generator=g, dtype=torch.float64) * 3
    kr = torch.randn(n_r, M, generator=g, dtype=torch.float64)
    return SolveInputs(w, k, v, kr, retain_weight, ridge)


def test_edited_keys_map_to_their_targets():
    x = _inputs()
    dw = solve_full(x)
    assert dw.shape == (D, M)
    got = x.keys @ (x.weight + dw).T  # (n, d)
    assert torch.allclose(got, x.targets, atol=1e-6), (got - x.targets).abs().max()


def test_retain_keys_barely_move_and_weight_trades_off():
    loose, tight = _inputs(retain_weight=1e-3), _inputs(retain_weight=1e3)
    drift = {}
    for name, x in (("loose", loose), ("tight", tight)):
        dw = solve_full(x)
        drift[name] = float((x.retain_keys @ dw.T).norm() / (x.retain_keys @ x.weight.T).norm())
    assert drift["tight"] < 0.05
    assert drift["tight"] < drift["loose"] / 5
    # with 5 + 30 < 48 keys the targets are still reachable exactly while retain outputs stay put
    dw = solve_full(tight)
    assert torch.allclose(tight.keys @ (tight.weight + dw).T, tight.targets, atol=1e-3)


def test_lowrank_equals_full_when_rank_covers_the_retain_keys():
    x = _inputs(ridge=1e-6)  # 30 retain keys: rank 30
    full = solve_full(x)
    for r in (30, M):
        assert torch.allclose(solve_lowrank(x, rank=r), full, atol=1e-8, rtol=1e-6)
    assert torch.allclose(solve(x, "lowrank", rank=M), full, atol=1e-8, rtol=1e-6)


def test_lowrank_degrades_gracefully_and_beats_krylov_at_equal_rank():
    # retain keys with a decaying spectrum, more of them than dimensions
    g = torch.Generator().manual_seed(1)
    x0 = _inputs(n=5, n_r=200, ridge=1e-6)
    scale = torch.logspace(0, -2, M, dtype=torch.float64)
    kr = torch.randn(200, M, generator=g, dtype=torch.float64) * scale
    x = SolveInputs(x0.weight, x0.keys, x0.targets, kr, 1.0, 1e-6)
    full = solve_full(x)

    def drift(dw: torch.Tensor) -> float:
        return float((x.retain_keys @ dw.T).norm() / (x.retain_keys @ x.weight.T).norm())

    def fit(dw: torch.Tensor) -> float:
        return float((x.keys @ dw.T - x.residual).norm() / x.residual.norm())

    errs = [float((solve_lowrank(x, r) - full).norm() / full.norm()) for r in (8, 24, 40, M)]
    assert errs[-1] < 1e-8 and errs[0] > errs[1] > errs[2] > errs[3]
    low, kry = solve_lowrank(x, 24), solve_krylov(x, 24)
    assert fit(low) < 0.05 and drift(low) < drift(kry)


def test_randomized_retain_subspace_matches_the_svd():
    g = torch.Generator().manual_seed(2)
    basis = torch.linalg.qr(torch.randn(300, 300, generator=g, dtype=torch.float64))[0]
    scale = torch.cat([torch.linspace(10, 5, 20, dtype=torch.float64), torch.full((280,), 0.05, dtype=torch.float64)])
    kr = (torch.randn(400, 300, generator=g, dtype=torch.float64) * scale) @ basis  # 20 strong directions
    v, s2 = retain_subspace(kr, 20)  # randomized (20 + 10 oversampling << 300)
    _, s, vh = torch.linalg.svd(kr, full_matrices=False)
    assert torch.allclose(s2, s[:20] ** 2, rtol=1e-3)
    assert torch.allclose((v.T @ vh[:20].T).abs().max(0).values, torch.ones(20, dtype=torch.float64), atol=1e-3)
    v2, _ = retain_subspace(kr, 20)
    assert torch.equal(v, v2)  # deterministic


def test_krylov_update_lives_in_its_subspace():
    x = _inputs(ridge=1e-6)
    assert torch.allclose(solve_krylov(x, rank=M), solve_full(x), atol=1e-8, rtol=1e-6)
    q = key_subspace(x, rank=10, depth=2)
    assert q.shape == (M, 10)
    assert torch.allclose(q.T @ q, torch.eye(10, dtype=q.dtype), atol=1e-10)
    dw = solve(x, "krylov", rank=10, krylov_depth=2)
    # ΔW = B Qᵀ: nothing outside span(Q)
    assert torch.allclose(dw @ (torch.eye(M, dtype=q.dtype) - q @ q.T), torch.zeros_like(dw), atol=1e-8)
    # depth 1 is the span of the forget keys themselves
    q1 = key_subspace(x, rank=M - 1, depth=1)
    assert q1.shape[1] == x.keys.shape[0]


def test_nullspace_solver_leaves_retain_outputs_alone():
    x = _inputs(n_r=20)  # retain keys span 20 of 48 dims: a 28-dim null space
    dw = solve_nullspace(x, threshold=1e-9)
    drift = float((x.retain_keys @ dw.T).norm() / (x.retain_keys @ x.weight.T).norm())
    assert drift < 1e-4  # exact up to the conditioning of the ρ-regularised system
    assert torch.allclose(x.keys @ (x.weight + dw).T, x.targets, atol=1e-4)


def test_inputs_are_checked():
    x = _inputs()
    with pytest.raises(AssertionError):
        SolveInputs(x.weight.float(), x.keys, x.targets, x.retain_keys)
    with pytest.raises(AssertionError):
        SolveInputs(x.weight, x.keys[:, :-1], x.targets, x.retain_keys)
    with pytest.raises(ValueError):
        solve(x, "nope")  # type: ignore[arg-type]


def test_retain_subspace_from_the_small_gram_matches_the_svd():
    """Fewer retain keys than m: exact top-r through the n_r×n_r Gram."""
    g = torch.Generator().manual_seed(3)
    kr = torch.randn(40, 120, generator=g, dtype=torch.float64) * torch.linspace(3, 0.1, 120, dtype=torch.float64)
    v, s2 = retain_subspace(kr, 25)
    _, s, vh = torch.linalg.svd(kr, full_matrices=False)
    assert v.shape == (120, 25)
    assert torch.allclose(s2, s[:25] ** 2, rtol=1e-10)
    assert torch.allclose(v.T @ v, torch.eye(25, dtype=torch.float64), atol=1e-10)
    assert torch.allclose((v * vh[:25].T).sum(0).abs(), torch.ones(25, dtype=torch.float64), atol=1e-10)
    v_all, s2_all = retain_subspace(kr, 500)  # more than there are: every direction that holds energy
    assert v_all.shape == (120, 40) and torch.allclose(s2_all.sum(), (kr**2).sum(), rtol=1e-10)
