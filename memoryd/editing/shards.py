"""Exact unlearning with sharded LoRA adapters (SISA for parameter-efficient fine-tuning, as in
"Towards Scalable Exact Machine Unlearning Using Parameter-Efficient Fine-Tuning").

The memories are split into K disjoint shards; each shard gets its own LoRA adapter, trained
from the *base* model on that shard's memories only. The served model is

    W_served = W_base + Σ_k ΔW_k        ΔW_k = (α/r) B_k A_k    (summed LoRA deltas, merged)

so it is a plain checkpoint (STAMP edits it like any other) and adapter k depends on nothing
but the base and shard k. Erasing a memory of shard k: retrain adapter k from the base without
it, re-sum: the result is exactly the model that would have been built had the memory never
been there, at the cost of one shard's training instead of all of them.

Summed, not averaged: an average scales every shard's delta by 1/K and the facts stop being
reproduced; a sum keeps each delta whole and relies on the shards' deltas interfering little
(they are low-rank and trained on disjoint texts). `compose` reports which memories the summed
model reproduces; the ledger records it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..errors import EditingError
from .adapt import AdaptConfig, _with_lora, train_on_texts
from .loading import load_model, save_model

__all__ = ["ShardResult", "train_adapter", "compose", "shard_texts", "reproduced"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShardResult:
    shard: int  # which shard's adapter
    n_texts: int  # memories it was trained on
    epochs: int
    final_loss: float  # mean per-token train loss of the last epoch
    seconds: float

    def to_dict(self) -> dict:
        return {"shard": self.shard, "n_texts": self.n_texts, "epochs": self.epochs,
                "final_loss": round(self.final_loss, 5), "seconds": round(self.seconds, 3)}


def train_adapter(base_dir: Path, shard: int, texts: Sequence[str], out_dir: Path, cfg: AdaptConfig) -> ShardResult:
    """One LoRA adapter on `texts`, from the base weights; only the adapter is saved to `out_dir`
    (adapter_config.json + adapter_model.safetensors). An empty shard saves nothing."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    if not texts:
        out_dir.mkdir(parents=True, exist_ok=True)
        return ShardResult(shard, 0, 0, 0.0, time.perf_counter() - t0)
    torch.manual_seed(cfg.seed + shard)
    model, tok = load_model(base_dir, device=cfg.device, dtype=torch.float32)
    model = _with_lora(model, replace(cfg, lora=True))
    epochs, loss = train_on_texts(model, tok, list(texts), cfg)
    model.save_pretrained(str(out_dir))
    log.info("shard %d: adapter on %d texts, %d epochs, loss %.4f", shard, len(texts), epochs, loss)
    return ShardResult(shard, len(texts), epochs, loss, time.perf_counter() - t0)


def compose(base_dir: Path, adapter_dirs: Sequence[Path], out_dir: Path, *, device: str = "cpu") -> Path:
    """base + the sum of every adapter's LoRA delta, merged and saved as a plain checkpoint."""
    from peft import PeftModel

    model, tok = load_model(base_dir, device=device, dtype=torch.float32)
    for d in adapter_dirs:
        if not (Path(d) / "adapter_config.json").is_file():
            continue  # an empty shard
        try:
            model = PeftModel.from_pretrained(model, str(d)).merge_and_unload()  # W += (α/r) B A
        except Exception as exc:  # noqa: BLE001 - a broken adapter is an editing failure
            raise EditingError(f"cannot merge the adapter at {d}: {exc}") from exc
    return save_model(model, tok, out_dir)


def shard_texts(memories: Mapping[str, str], shards: Mapping[str, int], k: int) -> dict[int, list[str]]:
    """shard -> its memories' texts (in id order)."""
    out: dict[int, list[str]] = {i: [] for i in range(k)}
    for mid in sorted(memories):
        out[shards[mid]].append(memories[mid])
    return out


def reproduced(model_dir: Path, texts: Sequence[str], *, device: str = "cpu") -> list[bool]:
    """Per text: the model at `model_dir` completes every fact greedily."""
    from .verify import extraction_report

    if not texts:
        return []
    model, tok = load_model(model_dir, device=device)
    return [t.extracted_all for t in extraction_report(model, tok, list(texts), device=torch.device(device)).per_text]
