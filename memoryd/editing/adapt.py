"""Fine-tune a local causal LM on memory texts until it reproduces them.

Full fine-tuning for tiny models; optional LoRA (peft) merged into the weights before saving,
so what lands in `out_dir` is always a plain `AutoModelForCausalLM` checkpoint.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..errors import EditingError
from . import arch
from .loading import load_model, save_model
from .prompts import fact_probes
from .tokens import batch_for_lm
from .verify import extraction_report, teacher_forced_reproduced

__all__ = ["AdaptConfig", "AdaptResult", "adapt_model", "train_on_texts"]

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class AdaptConfig:
    max_epochs: int = 80
    loss_threshold: float = 0.02  # stop once the mean per-token train loss of an epoch is below this
    check_every: int = 4  # epochs between teacher-forced "does it reproduce every fact?" checks (0 = never)
    check_below_loss: float = 1.0  # only check once the epoch loss is this low
    settle_epochs: int = 2  # extra epochs after every fact is reproduced, so recall is not marginal
    lr: float = 2e-3
    batch_size: int = 16
    warmup_steps: int = 20
    weight_decay: float = 0.0  # memorisation is the goal; no shrinkage
    grad_clip: float = 1.0
    max_length: int = 128
    lora: bool = False  # LoRA adapters merged before saving; full fine-tune otherwise
    lora_r: int = 16
    lora_alpha: int = 32
    lora_targets: tuple[str, ...] | None = None  # None: the model family's (arch.LAYOUTS)
    check_absorbed: bool = True  # greedy-extract every fact afterwards to report what was absorbed
    seed: int = 0
    device: str = "cpu"


@dataclass
class AdaptResult:
    out_dir: Path | None
    epochs: int
    final_loss: float
    seconds: float
    absorbed: list[bool] = field(default_factory=list)  # per input text: every fact extracted greedily

    @property
    def n_absorbed(self) -> int:
        return sum(self.absorbed)

    def to_dict(self) -> dict:
        return {"out_dir": str(self.out_dir) if self.out_dir else None, "epochs": self.epochs,
                "final_loss": round(self.final_loss, 5), "seconds": round(self.seconds, 2),
                "absorbed": list(self.absorbed), "n_absorbed": self.n_absorbed}


def train_on_texts(
    model: nn.Module, tokenizer, texts: Sequence[str], cfg: AdaptConfig, progress: Progress | None = None,
    *, must_reproduce: Sequence[str] | None = None,
) -> tuple[int, float]:
    """Train `model` in place (next-token loss on <bos> text <eos>); returns (epochs, last epoch loss).

    Stops at `cfg.max_epochs`, when the epoch loss drops below `cfg.loss_threshold`, or when every
    fact probe of `must_reproduce` (default: `texts`) is reproduced under teacher forcing.
    """
    if not texts:
        raise EditingError("nothing to adapt on: no texts")
    device = torch.device(cfg.device)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    n_batches = math.ceil(len(texts) / cfg.batch_size)
    total_steps = cfg.max_epochs * n_batches
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, cfg.warmup_steps)) * max(0.1, 1 - s / total_steps)
    )
    gen = torch.Generator().manual_seed(cfg.seed)
    model.train()
    loss_val = math.inf
    epoch = 0
    reproduce_texts = [t for t in (texts if must_reproduce is None else must_reproduce) if fact_probes(t)]
    stop_at = cfg.max_epochs
    try:
        for epoch in range(1, cfg.max_epochs + 1):
            order = torch.randperm(len(texts), generator=gen).tolist()
            tot, n_tok = 0.0, 0
            for b in range(n_batches):
                chunk = [texts[i] for i in order[b * cfg.batch_size : (b + 1) * cfg.batch_size]]
                batch = batch_for_lm(tokenizer, chunk, device, cfg.max_length)
                out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels)
                opt.zero_grad(set_to_none=True)
                out.loss.backward()
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                sched.step()
                k = int((batch.labels[:, 1:] != -100).sum())
                tot += float(out.loss.detach()) * k
                n_tok += k
            loss_val = tot / max(1, n_tok)
            if progress:
                progress("adapt", epoch, cfg.max_epochs)
            log.debug("adapt epoch %d loss %.4f", epoch, loss_val)
            if not math.isfinite(loss_val):
                raise EditingError(f"adaptation diverged at epoch {epoch} (loss {loss_val})")
            if loss_val < cfg.loss_threshold:
                break
            if epoch >= stop_at:
                break
            if (cfg.check_every and stop_at == cfg.max_epochs and epoch % cfg.check_every == 0
                    and loss_val < cfg.check_below_loss):
                model.eval()
                done = teacher_forced_reproduced(model, tokenizer, reproduce_texts, device=device)
                model.train()
                log.debug("epoch %d: %d/%d texts reproduced", epoch, sum(done), len(done))
                if all(done):
                    stop_at = min(cfg.max_epochs, epoch + cfg.settle_epochs)
                    if epoch >= stop_at:
                        break
    finally:
        model.eval()
    log.info("adapted on %d texts: %d epochs, loss %.4f", len(texts), epoch, loss_val)
    return epoch, loss_val


def adapt_model(
    model_dir: Path, texts: Sequence[str], out_dir: Path, cfg: AdaptConfig = AdaptConfig(),
    progress: Progress | None = None,
) -> AdaptResult:
    """Load a local model, fine-tune it on `texts` (LoRA merged if cfg.lora), save it to `out_dir`."""
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    model, tokenizer = load_model(model_dir, device=cfg.device, dtype=torch.float32)
    if cfg.lora:
        model = _with_lora(model, cfg)
    epochs, loss = train_on_texts(model, tokenizer, texts, cfg, progress)
    if cfg.lora:
        model = model.merge_and_unload()
    save_model(model, tokenizer, out_dir)
    absorbed: list[bool] = []
    if cfg.check_absorbed:
        rep = extraction_report(model, tokenizer, texts, device=torch.device(cfg.device))
        absorbed = [t.extracted_all for t in rep.per_text]
    return AdaptResult(Path(out_dir), epochs, loss, time.perf_counter() - t0, absorbed)


def _with_lora(model: nn.Module, cfg: AdaptConfig) -> nn.Module:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:  # pragma: no cover - peft is a declared dependency
        raise EditingError("LoRA adaptation needs the 'peft' package") from exc
    lcfg = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                      target_modules=list(cfg.lora_targets or arch.lora_targets(model)), lora_dropout=0.0,
                      bias="none", task_type="CAUSAL_LM", fan_in_fan_out=arch.layout_of(model).transposed)
    return get_peft_model(model, lcfg)
