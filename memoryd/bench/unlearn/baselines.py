"""Training-based unlearning baselines on the same model and data as STAMP.

- gradient ascent (GA): maximise the next-token loss on the forget texts until no fact probe
  is reproduced any more (teacher-forced exact match, checked after every step) or max_steps;
  with `stop_when="no_word"`, until no greedy continuation of a probe shares a word with its
  answer (F-RL 0: the standard STAMP's leak check holds its own edit to).
- Selective Synaptic Dampening (SSD, Foster et al. 2024): diagonal Fisher importance on the
  forget set and on the retain set; every parameter with I_f > α·I_r is scaled by
  β = min(λ·I_r / I_f, 1). No gradient steps, one pass over each set.

Both change the model in place (pass a copy) and report their wall time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ...editing.tokens import batch_for_lm
from ...editing.verify import extraction_report, teacher_forced_probe_hits
from ...errors import EditingError

__all__ = ["GAConfig", "SSDConfig", "BaselineResult", "gradient_ascent", "selective_synaptic_dampening"]

log = logging.getLogger(__name__)


STOP_WHEN = ("reproduced", "no_word")


@dataclass(frozen=True)
class GAConfig:
    lr: float = 2e-4
    max_steps: int = 60
    batch_size: int = 16
    grad_clip: float = 1.0
    stop_at_zero: bool = True  # stop once forgotten (stop_when); False: run exactly max_steps
    stop_when: str = "reproduced"  # "reproduced": no probe reproduced under teacher forcing; "no_word": no
    # greedy continuation shares a word with its answer (F-RL 0, STAMP's standard; a greedy decode per step)

    def __post_init__(self) -> None:
        if self.stop_when not in STOP_WHEN:
            raise ValueError(f"stop_when must be one of {STOP_WHEN}")


@dataclass(frozen=True)
class SSDConfig:
    alpha: float = 10.0  # selection: forget importance must exceed α × retain importance
    lam: float = 1.0  # dampening: β = min(λ I_r / I_f, 1)
    batch_size: int = 1  # texts per gradient when estimating the Fisher diagonal
    max_retain: int = 256  # retain texts used for I_r


@dataclass(frozen=True)
class BaselineResult:
    method: str
    seconds: float
    steps: int  # GA optimiser steps; SSD: gradient passes
    forgot: bool  # the stopping test passed at the end (GAConfig.stop_when; SSD: no probe reproduced)
    changed_params: int = 0  # SSD: parameters dampened
    check_seconds: float = 0.0  # GA: of `seconds`, spent on the stopping check after each step

    def to_dict(self) -> dict:
        return {"method": self.method, "seconds": round(self.seconds, 3), "steps": self.steps,
                "forgot": self.forgot, "changed_params": self.changed_params,
                "check_seconds": round(self.check_seconds, 3)}


def forgotten(model: nn.Module, tokenizer, texts: Sequence[str], device: torch.device,
              stop_when: str = "reproduced") -> tuple[bool, float]:
    """(forgotten, seconds the check took): the stopping test of the gradient methods, timed
    apart so that their speed can be told without it. "reproduced": no fact probe of `texts`
    is reproduced under teacher forcing; "no_word": no probe's greedy continuation shares a
    word with its answer (F-RL 0)."""
    model.eval()
    t = time.perf_counter()
    if stop_when == "no_word":
        done = extraction_report(model, tokenizer, texts, device=device).rouge_l == 0.0
    else:
        hits, _ = teacher_forced_probe_hits(model, tokenizer, texts, device=device)
        done = hits == 0
    return done, time.perf_counter() - t


def ascend(name: str, model: nn.Module, tokenizer, forget_texts: Sequence[str], *, max_steps: int,
           stop_at_zero: bool, device: torch.device, epoch: Callable[[], None],
           stop_when: str = "reproduced") -> BaselineResult:
    """The loop of the gradient methods: `epoch()` (one pass of ascent over the forget set, in
    train mode), then the stopping check, up to `max_steps` times; the model is left in eval."""
    t0 = time.perf_counter()
    steps, forgot, checking = 0, False, 0.0
    try:
        for steps in range(1, max_steps + 1):
            model.train()
            epoch()
            forgot, check_s = forgotten(model, tokenizer, forget_texts, device, stop_when)
            checking += check_s
            if forgot and stop_at_zero:
                break
    finally:
        model.eval()
    secs = time.perf_counter() - t0
    log.info("%s: %d steps, %.2fs, forgot=%s", name, steps, secs, forgot)
    return BaselineResult(name, secs, steps, forgot, check_seconds=checking)


def gradient_ascent(model: nn.Module, tokenizer, forget_texts: Sequence[str], cfg: GAConfig = GAConfig(),
                    *, device: torch.device) -> BaselineResult:
    if not forget_texts:
        raise EditingError("nothing to forget")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    texts = list(forget_texts)

    def epoch() -> None:
        for s in range(0, len(texts), cfg.batch_size):
            b = batch_for_lm(tokenizer, texts[s : s + cfg.batch_size], device)
            loss = -model(input_ids=b.input_ids, attention_mask=b.attention_mask, labels=b.labels).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()

    return ascend("gradient_ascent", model, tokenizer, texts, max_steps=cfg.max_steps,
                  stop_at_zero=cfg.stop_at_zero, device=device, epoch=epoch, stop_when=cfg.stop_when)


def _fisher(model: nn.Module, tokenizer, texts: Sequence[str], batch_size: int, device: torch.device
            ) -> dict[str, torch.Tensor]:
    """Mean squared gradient of the LM loss per parameter (diagonal empirical Fisher)."""
    imp = {n: torch.zeros_like(p) for n, p in model.named_parameters() if p.requires_grad}
    n_batches = 0
    model.eval()  # no dropout; gradients still flow
    for s in range(0, len(texts), batch_size):
        b = batch_for_lm(tokenizer, texts[s : s + batch_size], device)
        model.zero_grad(set_to_none=True)
        model(input_ids=b.input_ids, attention_mask=b.attention_mask, labels=b.labels).loss.backward()
        for n, p in model.named_parameters():
            if p.grad is not None:
                imp[n] += p.grad.detach() ** 2
        n_batches += 1
    model.zero_grad(set_to_none=True)
    return {n: v / max(1, n_batches) for n, v in imp.items()}


@torch.no_grad()
def _dampen(model: nn.Module, f_imp: dict[str, torch.Tensor], r_imp: dict[str, torch.Tensor],
            cfg: SSDConfig) -> int:
    changed = 0
    for n, p in model.named_parameters():
        if n not in f_imp:
            continue
        fi, ri = f_imp[n], r_imp[n]
        sel = fi > cfg.alpha * ri
        beta = (cfg.lam * ri / fi.clamp_min(1e-30)).clamp(max=1.0)
        p[sel] = p[sel] * beta[sel].to(p.dtype)
        changed += int(sel.sum())
    return changed


def selective_synaptic_dampening(model: nn.Module, tokenizer, forget_texts: Sequence[str],
                                 retain_texts: Sequence[str], cfg: SSDConfig = SSDConfig(), *,
                                 device: torch.device) -> BaselineResult:
    if not forget_texts:
        raise EditingError("nothing to forget")
    t0 = time.perf_counter()
    retain = list(retain_texts)[: cfg.max_retain]
    with torch.enable_grad():
        f_imp = _fisher(model, tokenizer, list(forget_texts), cfg.batch_size, device)
        r_imp = _fisher(model, tokenizer, retain, cfg.batch_size, device) if retain else \
            {n: torch.zeros_like(v) for n, v in f_imp.items()}
    changed = _dampen(model, f_imp, r_imp, cfg)
    secs = time.perf_counter() - t0
    hits, _ = teacher_forced_probe_hits(model, tokenizer, list(forget_texts), device=device)
    log.info("SSD: %d params dampened in %.2fs", changed, secs)
    return BaselineResult("ssd", secs, len(forget_texts) + len(retain), hits == 0, changed)
