"""Closed-form weight updates for one down_proj: ΔW such that (W + ΔW) k ≈ v* on forget keys.

Keys are rows here: K (n, m) forget keys, K_r (n_r, m) retain keys, R = V* − K Wᵀ (n, d) the
residual. All solvers work in float64 and minimise

    ‖K ΔWᵀ − R‖²  +  λ ‖K_r ΔWᵀ‖²  +  ρ ‖ΔW‖²

- full (MEMIT-style covariance regularisation), O(m³):
      ΔWᵀ = (KᵀK + λ K_rᵀK_r + ρI)⁻¹ Kᵀ R
- lowrank (default): keep only the top-r subspace V_r (m, r) of the retain keys and treat the
  rest of their energy as isotropic (PPCA), C ≈ λ(V_r S_r² V_rᵀ + τ(I − V_rV_rᵀ)) + ρI, which
  is inverted in closed form; the n forget keys enter through Woodbury:
      ΔWᵀ = C⁻¹Kᵀ (I_n + K C⁻¹ Kᵀ)⁻¹ R
  O(n_r·m·r) for a randomized top-r SVD of K_r, O(m·r·n + n³) for the rest; no m×m matrix is
  formed. Identical to full when r ≥ rank(K_r) (then τ = 0).
- krylov: restrict ΔW to an r-dimensional subspace Q (m, r) of key space, an r×r solve:
      ΔWᵀ = Q (QᵀKᵀKQ + λ QᵀK_rᵀK_rQ + ρI)⁻¹ QᵀKᵀ R          identical to full when r = m
  Q spans the top directions of the block Krylov space of the forget keys. Measured worse
  than lowrank (the exact update lives mostly where the retain keys are small, which low
  powers of A = KᵀK + λK_rᵀK_r do not reach); kept for comparison.
- nullspace (AlphaEdit): ΔW only acts on P, the projector onto the (near) null space of
  K_rᵀK_r (the eigen-directions that together hold at most `threshold` of the retain key
  energy), so retain outputs move by at most that fraction:
      ΔWᵀ = (P KᵀK P + ρI)⁻¹ P Kᵀ R
ρ = ridge · mean(diag(KᵀK + λ K_rᵀK_r)) keeps the systems well conditioned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import torch

__all__ = ["SolveInputs", "Solver", "key_subspace", "retain_subspace", "solve_full", "solve_lowrank", "solve_krylov",
           "solve_nullspace", "solve"]

log = logging.getLogger(__name__)

Solver = Literal["full", "lowrank", "krylov", "nullspace"]


@dataclass(frozen=True)
class SolveInputs:
    weight: torch.Tensor  # (d, m) current down_proj weight W
    keys: torch.Tensor  # (n, m) forget keys K
    targets: torch.Tensor  # (n, d) target values V*
    retain_keys: torch.Tensor  # (n_r, m) retain keys K_r (may have 0 rows)
    retain_weight: float = 1.0  # λ
    ridge: float = 1e-4  # ρ relative to the mean diagonal of the key covariance

    def __post_init__(self) -> None:
        d, m = self.weight.shape
        assert self.keys.dim() == 2 and self.keys.shape[1] == m, "keys must be (n, m)"
        assert self.targets.shape == (self.keys.shape[0], d), "targets must be (n, d)"
        assert self.retain_keys.dim() == 2 and self.retain_keys.shape[1] == m, "retain keys must be (n_r, m)"
        for t in (self.weight, self.keys, self.targets, self.retain_keys):
            assert t.dtype == torch.float64, "solve in float64"

    @property
    def residual(self) -> torch.Tensor:
        return self.targets - self.keys @ self.weight.T  # (n, d)


def _rho(x: SolveInputs, cov_diag: torch.Tensor) -> float:
    return x.ridge * float(cov_diag.mean().clamp_min(1e-12))


def solve_full(x: SolveInputs) -> torch.Tensor:
    """ΔW (d, m) from the m×m normal equations."""
    k, kr = x.keys, x.retain_keys
    a = k.T @ k + x.retain_weight * (kr.T @ kr)  # (m, m)
    a = a + _rho(x, a.diagonal()) * torch.eye(a.shape[0], dtype=a.dtype)
    dw_t = torch.linalg.solve(a, k.T @ x.residual)  # (m, d)
    return dw_t.T.contiguous()  # (d, m)


def key_subspace(x: SolveInputs, rank: int, depth: int = 4) -> torch.Tensor:
    """Q (m, r): orthonormal basis of the top-r directions of the block Krylov space
    span{Kᵀ, A Kᵀ, …, A^(depth−1) Kᵀ}, A = KᵀK + λ K_rᵀK_r (never formed).

    The exact update ΔWᵀ = A⁻¹KᵀR lies in span(A⁻¹Kᵀ); this Krylov space is the standard
    polynomial approximation of it, built with matrix-vector products only: O(depth·(n+n_r)·m·n).
    depth = 1 is the plain top-r subspace of the forget keys. r ≥ m returns the identity.
    """
    k, kr = x.keys, x.retain_keys
    m = k.shape[1]
    if rank >= m:
        return torch.eye(m, dtype=k.dtype)
    blocks = []
    b = k.T  # (m, n)
    for j in range(max(1, depth)):
        b = b / b.norm().clamp_min(1e-300)
        blocks.append(b)
        if j + 1 < depth:
            b = k.T @ (k @ b) + x.retain_weight * (kr.T @ (kr @ b))  # (m, n) = A b
    u, sv, _ = torch.linalg.svd(torch.cat(blocks, dim=1), full_matrices=False)  # u: (m, depth·n)
    keep = min(rank, int((sv > sv[0] * 1e-10).sum()))
    return u[:, :keep].contiguous()  # (m, r)


def solve_krylov(x: SolveInputs, rank: int, depth: int = 4) -> torch.Tensor:
    """ΔW (d, m) restricted to an r-dimensional key subspace Q: an r×r solve, O(r³ + r²·d)."""
    q = key_subspace(x, rank, depth)  # (m, r)
    kq = x.keys @ q  # (n, r)
    krq = x.retain_keys @ q  # (n_r, r)
    a = kq.T @ kq + x.retain_weight * (krq.T @ krq)  # (r, r)
    # ρ from the full covariance diagonal (cheap: column sums of squares) so r = m matches `full`
    cov_diag = (x.keys**2).sum(0) + x.retain_weight * (x.retain_keys**2).sum(0)  # (m,)
    a = a + _rho(x, cov_diag) * torch.eye(a.shape[0], dtype=a.dtype)
    b_t = torch.linalg.solve(a, kq.T @ x.residual)  # (r, d)
    return (q @ b_t).T.contiguous()  # (d, m)


def retain_subspace(kr: torch.Tensor, rank: int, *, oversample: int = 10, power_iters: int = 2,
                    seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(V (m, r), s² (r,)): top-r right singular vectors of the retain keys K_r (n_r, m) and
    their energies (fewer than r when K_r has less energy-bearing directions). Exact through the
    n_r×n_r Gram when n_r ≤ m, exact SVD when r is close to m; otherwise a randomized range
    finder with a fixed seed (deterministic), O(n_r·m·r)."""
    n_r, m = kr.shape
    r = min(rank, n_r, m)
    if r == 0:
        return torch.zeros(m, 0, dtype=kr.dtype), torch.zeros(0, dtype=kr.dtype)
    if n_r <= m:  # exact, from the smaller Gram: K_r K_rᵀ = U S² Uᵀ and V = K_rᵀ U S⁻¹, O(n_r²·m + n_r³)
        evals, u = torch.linalg.eigh(kr @ kr.T)  # ascending
        evals, u = evals.flip(0), u.flip(1)
        # directions with under 1e-8 of the top energy are left to the caller's isotropic tail:
        # below that, V's columns would lose orthogonality to rounding (error ~ eps·s₁²/s²)
        keep = min(r, int((evals > evals[0].clamp_min(0) * 1e-8).sum()))
        s2 = evals[:keep]
        return ((kr.T @ u[:, :keep]) / s2.sqrt()).contiguous(), s2
    if 2 * (r + oversample) >= m:
        _, s, vh = torch.linalg.svd(kr, full_matrices=False)
        return vh[:r].T.contiguous(), s[:r] ** 2
    g = torch.Generator().manual_seed(seed)
    omega = torch.randn(m, r + oversample, generator=g, dtype=kr.dtype)  # (m, r+p)
    y, _ = torch.linalg.qr(kr @ omega)  # (n_r, r+p)
    for _ in range(power_iters):
        z, _ = torch.linalg.qr(kr.T @ y)  # (m, r+p)
        y, _ = torch.linalg.qr(kr @ z)  # (n_r, r+p)
    _, s, vh = torch.linalg.svd(y.T @ kr, full_matrices=False)  # (r+p, m)
    return vh[:r].T.contiguous(), s[:r] ** 2


def solve_lowrank(x: SolveInputs, rank: int) -> torch.Tensor:
    """ΔW (d, m) with the retain covariance kept to its top-r subspace (+ isotropic tail)."""
    k, kr, lam = x.keys, x.retain_keys, x.retain_weight
    m = k.shape[1]
    cov_diag = (k**2).sum(0) + lam * (kr**2).sum(0)  # (m,) as in `full`, so ρ matches
    rho = _rho(x, cov_diag)
    v, s2 = retain_subspace(kr, rank)  # (m, r), (r,)
    r = v.shape[1]
    tail = float(((kr**2).sum() - s2.sum()).clamp_min(0)) / max(1, m - r)  # τ: mean energy per other direction
    a_in = 1.0 / (lam * s2 + rho)  # (r,) C⁻¹ on span(V)
    a_out = 1.0 / (lam * tail + rho)  # C⁻¹ on its complement
    kt = k.T  # (m, n)
    vk = v.T @ kt  # (r, n)
    cinv_kt = v @ (a_in[:, None] * vk) + a_out * (kt - v @ vk)  # (m, n) = C⁻¹Kᵀ
    g = torch.eye(k.shape[0], dtype=k.dtype) + k @ cinv_kt  # (n, n)
    dw_t = cinv_kt @ torch.linalg.solve(g, x.residual)  # (m, d)
    return dw_t.T.contiguous()  # (d, m)


def solve_nullspace(x: SolveInputs, threshold: float = 1e-3) -> torch.Tensor:
    """ΔW (d, m) acting only on the null space of the retain covariance (AlphaEdit)."""
    k, kr = x.keys, x.retain_keys
    m = k.shape[1]
    c = kr.T @ kr  # (m, m)
    evals, evecs = torch.linalg.eigh(c)  # ascending
    energy = evals.clamp_min(0).cumsum(0)  # (m,) energy of the smallest directions
    keep = energy <= threshold * float(energy[-1].clamp_min(1e-12))
    u0 = evecs[:, keep]  # (m, z)
    p = u0 @ u0.T  # (m, m) projector onto the null space
    log.debug("null space: %d of %d dims", int(keep.sum()), m)
    kp = k @ p  # (n, m)
    a = kp.T @ kp  # (m, m) = P KᵀK P
    cov_diag = (k**2).sum(0)  # (m,)
    a = a + _rho(x, cov_diag) * torch.eye(m, dtype=a.dtype)
    dw_t = torch.linalg.solve(a, kp.T @ x.residual)  # (m, d)
    return dw_t.T.contiguous()  # (d, m)


def solve(x: SolveInputs, method: Solver = "full", *, rank: int = 256, krylov_depth: int = 4,
          nullspace_threshold: float = 1e-3) -> torch.Tensor:
    if method == "full":
        return solve_full(x)
    if method == "lowrank":
        return solve_lowrank(x, rank)
    if method == "krylov":
        return solve_krylov(x, rank, krylov_depth)
    if method == "nullspace":
        return solve_nullspace(x, nullspace_threshold)
    raise ValueError(f"unknown solver {method!r}")
