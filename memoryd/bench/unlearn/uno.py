"""UNO (Unlearning via Orthogonalization in generative models): gradient ascent on the forget
loss with, at every step, the ascent direction projected off the span of the retain gradients.

Per step: g_r1 .. g_rk = ∇ LM loss on k retain batches, orthonormalised (Gram-Schmidt) into
u_1 .. u_k; g = ∇(-LM loss on the forget batch); g ← g - Σ (g·u_i) u_i. To first order the step
then leaves the loss on those retain batches unchanged. The projected gradient drives the same
optimiser as gradient ascent (Adam), so the two compare at equal steps. Changes the model in
place (pass a copy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ...editing.tokens import batch_for_lm
from ...errors import EditingError
from .baselines import BaselineResult, ascend

__all__ = ["UNOConfig", "uno"]



@dataclass(frozen=True)
class UNOConfig:
    lr: float = 2e-4  # as gradient ascent
    max_steps: int = 60
    batch_size: int = 16
    retain_batches: int = 4  # k retain gradients per step, the subspace the step avoids
    grad_clip: float = 1.0
    stop_at_zero: bool = True  # stop once no probe is reproduced; False: run exactly max_steps
    seed: int = 0


def _flat_grad(model: nn.Module, params: list[nn.Parameter], loss: torch.Tensor) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)])


def orthogonalise(g: torch.Tensor, basis: Sequence[torch.Tensor], eps: float = 1e-12) -> torch.Tensor:
    """`g` minus its projection on span(basis), the basis orthonormalised by Gram-Schmidt first."""
    us: list[torch.Tensor] = []
    for v in basis:
        v = v.double()
        for u in us:
            v = v - (v @ u) * u
        n = v.norm()
        if n > eps:
            us.append(v / n)
    out = g.double()
    for u in us:
        out = out - (out @ u) * u
    return out.to(g.dtype)


def uno(model: nn.Module, tokenizer, forget_texts: Sequence[str], retain_texts: Sequence[str],
        cfg: UNOConfig = UNOConfig(), *, device: torch.device) -> BaselineResult:
    if not forget_texts:
        raise EditingError("nothing to forget")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    forget, retain = list(forget_texts), list(retain_texts)

    def loss_of(texts: list[str]) -> torch.Tensor:
        b = batch_for_lm(tokenizer, texts, device)
        return model(input_ids=b.input_ids, attention_mask=b.attention_mask, labels=b.labels).loss

    def epoch() -> None:
        basis = []
        for _ in range(cfg.retain_batches if retain else 0):
            idx = torch.randperm(len(retain), generator=gen)[: cfg.batch_size].tolist()
            basis.append(_flat_grad(model, params, loss_of([retain[i] for i in idx])))
        for s in range(0, len(forget), cfg.batch_size):
            g = orthogonalise(_flat_grad(model, params, -loss_of(forget[s : s + cfg.batch_size])), basis)
            off = 0
            for p in params:  # (numel,) slices back into .grad
                p.grad = g[off : off + p.numel()].view_as(p).clone()
                off += p.numel()
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)

    return ascend("uno", model, tokenizer, forget, max_steps=cfg.max_steps, stop_at_zero=cfg.stop_at_zero,
                  device=device, epoch=epoch)
