"""Target values: where STAMP sends the MLP outputs of forget keys.

The refusal subspace at layer l is the affine span, anchored at the mean μ_R, of the top-s
singular vectors U of the model's own activations on refusal prompts ("I don't know.", ...).
Two spaces can carry it:

- "residual" (default): activations = the residual stream h after layer l. The forget value v
  is shifted so that the residual lands on the refusal subspace:
      h* = μ_R + U Uᵀ (h − μ_R)        v* = v + α (h* − h)
  Everything at that position that is specific to the fact is removed from the stream, not
  only what this MLP wrote, so later layers read a refusal-like state.
- "value": activations = the down_proj outputs. Only the MLP's own write is projected:
      v* = v + α (μ_R + U Uᵀ (v − μ_R) − v)

α = strength; α = 1 lands exactly on the subspace.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["RefusalSubspace", "refusal_subspace", "project", "target_values"]


@dataclass(frozen=True)
class RefusalSubspace:
    mean: torch.Tensor  # (d,) mean refusal activation μ_R
    basis: torch.Tensor  # (d, s) orthonormal columns U

    @property
    def rank(self) -> int:
        return int(self.basis.shape[1])


def refusal_subspace(acts: torch.Tensor, rank: int) -> RefusalSubspace:
    """μ_R and the top-`rank` left singular vectors of the centred refusal activations (n, d)."""
    assert acts.dim() == 2 and acts.dtype == torch.float64
    mean = acts.mean(0)  # (d,)
    centred = acts - mean  # (n, d)
    rank = max(0, min(rank, centred.shape[0] - 1, centred.shape[1]))
    if rank == 0:
        return RefusalSubspace(mean, torch.zeros(acts.shape[1], 0, dtype=acts.dtype))
    u, _, _ = torch.linalg.svd(centred.T, full_matrices=False)  # u: (d, min(d, n))
    basis = u[:, :rank].contiguous()  # (d, s)
    assert torch.allclose(basis.T @ basis, torch.eye(rank, dtype=basis.dtype), atol=1e-8)
    return RefusalSubspace(mean, basis)


def project(x: torch.Tensor, sub: RefusalSubspace) -> torch.Tensor:
    """Rows of x (n, d) projected onto the affine refusal subspace."""
    return sub.mean + ((x - sub.mean) @ sub.basis) @ sub.basis.T  # (n, d)


def target_values(values: torch.Tensor, sub: RefusalSubspace, strength: float = 1.0,
                  hidden: torch.Tensor | None = None) -> torch.Tensor:
    """v* (n, d). With `hidden` (the residual after the layer, (n, d)) the shift that puts the
    residual on the subspace is added to v; without it v itself is projected."""
    anchor = values if hidden is None else hidden  # (n, d)
    assert anchor.shape == values.shape
    return values + strength * (project(anchor, sub) - anchor)  # (n, d)
