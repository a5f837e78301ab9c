"""The retain side of a STAMP solve for one layer, prepared once and reused in every repair round.

Retain keys K_r do not depend on the forget set, so their part of the solve (the kernel
λK_rK_rᵀ or covariance λK_rᵀK_r of the full solve, the top-r subspace of the low-rank one) is
computed once per layer and each round only adds the forget keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .solve import SolveInputs, _rho, retain_subspace, solve

if TYPE_CHECKING:
    from .stamp import StampConfig

__all__ = ["LayerStats", "PreparedRetain", "resolve_solver", "AUTO_FULL_MAX"]


@dataclass(frozen=True)
class LayerStats:
    layer: int
    n_forget_keys: int
    n_retain_keys: int
    fit_error: float  # ‖K(W+ΔW)ᵀ − V*‖ / ‖V* − KWᵀ‖: 0 = targets reached exactly
    retain_drift: float  # ‖K_r ΔWᵀ‖ / ‖K_r Wᵀ‖: how much retain outputs moved
    delta_norm: float  # ‖ΔW‖_F / ‖W‖_F
    solver: str = ""  # the solver used ("auto" resolved)


AUTO_FULL_MAX = 2048  # "auto" solves exactly when n_r or m is at most this, else low-rank


def resolve_solver(solver: str, n_retain: int, m: int) -> str:
    """"auto": the exact "full" solve when it is cheap, i.e. its system (dual form, n_r × n_r,
    when n_r ≤ m; primal, m × m, otherwise) is at most 2048 wide; else "lowrank". Other
    solvers as given."""
    if solver != "auto":
        return solver
    return "full" if min(n_retain, m) <= AUTO_FULL_MAX else "lowrank"


@dataclass
class PreparedRetain:
    """One layer's retain side of the solve, computed once and reused in every repair round.

    `solve` gives the same ΔW as `solve.solve` with these retain keys: "lowrank" bit for bit (the
    same float64 operations, the retain subspace is not recomputed), "full" to rounding; the
    other solvers just call `solve.solve`. "full" is solved in whichever form is smaller:

    - primal (n_r > m): (KᵀK + λK_rᵀK_r + ρI) ΔWᵀ = KᵀR, an m×m Cholesky; λK_rᵀK_r prepared;
    - dual (n_r ≤ m): with B = [K; √λ K_r] (N = n + n_r rows), the push-through identity
      (ρI + BᵀB)⁻¹Bᵀ = Bᵀ(ρI + BBᵀ)⁻¹ gives ΔWᵀ = Bᵀ (ρI + BBᵀ)⁻¹ [R; 0], an N×N Cholesky;
      the retain block λK_rK_rᵀ of BBᵀ is prepared. O(N²m + N³) instead of O(m³ + m²d).
      Only n columns of the inverse are needed, since [R; 0] is zero below the forget rows.
    """

    weight: torch.Tensor  # (d, m) W, float64
    keys: torch.Tensor  # (n_r, m) K_r
    cfg: "StampConfig"
    solver: str = "full"  # cfg.solver, "auto" resolved for this layer's retain keys
    gram: torch.Tensor | None = None  # full, primal: λ K_rᵀK_r (m, m)
    kernel: torch.Tensor | None = None  # full, dual: λ K_r K_rᵀ (n_r, n_r)
    subspace: tuple[torch.Tensor, torch.Tensor, float] | None = None  # lowrank: V (m, r), s² (r,), Σ K_r²
    col_energy: torch.Tensor | None = None  # λ Σ_rows K_r² (m,), for ρ
    retain_out_norm: float = 0.0  # ‖K_r Wᵀ‖

    @classmethod
    def prepare(cls, kr: torch.Tensor | None, weight: torch.Tensor, cfg: "StampConfig",
                values: torch.Tensor | None = None) -> "PreparedRetain":
        """`kr` (n_r, m) retain keys; `values` their down_proj outputs K_r Wᵀ when already read
        (only their norm is used, for `stats`); `weight` W (d, m), keys.down_weight."""
        w = weight.detach().to("cpu", torch.float64)  # (d, m)
        if kr is None:
            kr = torch.zeros(0, w.shape[1], dtype=torch.float64)  # (0, m)
        out = cls(w, kr, cfg, resolve_solver(cfg.solver, kr.shape[0], kr.shape[1]))
        lam = cfg.retain_weight
        out.col_energy = lam * (kr**2).sum(0)
        if out.solver == "full":
            if kr.shape[0] <= kr.shape[1]:
                out.kernel = lam * (kr @ kr.T)  # (n_r, n_r)
            else:
                out.gram = lam * (kr.T @ kr)  # (m, m)
        elif out.solver == "lowrank":
            v, s2 = retain_subspace(kr, cfg.rank)
            out.subspace = (v, s2, float((kr**2).sum()))
        if kr.shape[0]:  # for stats
            out.retain_out_norm = float((values if values is not None else kr.float() @ w.float().T).norm())
        return out

    def solve(self, x: SolveInputs) -> torch.Tensor:
        k = x.keys
        if self.kernel is not None:  # solve.solve_full, dual form
            n, root = k.shape[0], x.retain_weight**0.5
            kkr = root * (k @ self.keys.T)  # (n, n_r)
            a = torch.cat([torch.cat([k @ k.T, kkr], 1), torch.cat([kkr.T, self.kernel], 1)])  # (N, N) = BBᵀ
            a.diagonal().add_(_rho(x, (k**2).sum(0) + self.col_energy))
            # only the first n columns of (ρI + BBᵀ)⁻¹ meet [R; 0]: solve for those, then
            # ΔWᵀ = (Bᵀ X) R, which costs O(N²n + Nmn + mnd) instead of O(N²d + Nmd)
            x_cols = _spd_solve(a, torch.eye(a.shape[0], n, dtype=k.dtype))  # (N, n)
            bx = k.T @ x_cols[:n] + root * (self.keys.T @ x_cols[n:])  # (m, n)
            return (bx @ x.residual).T.contiguous()  # (d, m)
        if self.gram is not None:  # solve.solve_full, primal form
            a = k.T @ k + self.gram  # (m, m)
            a.diagonal().add_(_rho(x, a.diagonal()))
            if k.shape[0] < x.residual.shape[1]:  # fewer forget keys than d: A⁻¹Kᵀ first, then · R
                return (_spd_solve(a, k.T.contiguous()) @ x.residual).T.contiguous()  # (d, m)
            return _spd_solve(a, k.T @ x.residual).T.contiguous()  # (d, m)
        if self.subspace is not None:  # solve.solve_lowrank
            lam, m = x.retain_weight, k.shape[1]
            rho = _rho(x, (k**2).sum(0) + self.col_energy)
            v, s2, energy = self.subspace
            r = v.shape[1]
            tail = max(0.0, energy - float(s2.sum())) / max(1, m - r)  # τ
            a_in = 1.0 / (lam * s2 + rho)  # (r,)
            a_out = 1.0 / (lam * tail + rho)
            kt = k.T  # (m, n)
            vk = v.T @ kt  # (r, n)
            cinv_kt = v @ (a_in[:, None] * vk) + a_out * (kt - v @ vk)  # (m, n) = C⁻¹Kᵀ
            g = torch.eye(k.shape[0], dtype=k.dtype) + k @ cinv_kt  # (n, n)
            return (cinv_kt @ torch.linalg.solve(g, x.residual)).T.contiguous()  # (d, m)
        cfg = self.cfg
        return solve(x, self.solver, rank=cfg.rank, krylov_depth=cfg.krylov_depth,
                     nullspace_threshold=cfg.nullspace_threshold)

    def stats(self, layer: int, x: SolveInputs, dw: torch.Tensor) -> LayerStats:
        r = x.residual  # (n, d)
        fit = (x.keys @ dw.T - r).norm() / r.norm().clamp_min(1e-12)
        # a diagnostic: float32 is plenty, and n_r·m·d multiply-adds in float64 are not free
        drift = (float((self.keys.float() @ dw.float().T).norm()) / max(self.retain_out_norm, 1e-12)
                 if self.keys.shape[0] else 0.0)
        return LayerStats(layer, int(x.keys.shape[0]), int(self.keys.shape[0]), float(fit), drift,
                          float(dw.norm() / x.weight.norm().clamp_min(1e-12)), self.solver)


def _spd_solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a⁻¹b for a symmetric positive definite `a` (ρ > 0): Cholesky, LU if that fails."""
    chol, info = torch.linalg.cholesky_ex(a)
    if int(info) == 0:
        return torch.cholesky_solve(b, chol)
    return torch.linalg.solve(a, b)
