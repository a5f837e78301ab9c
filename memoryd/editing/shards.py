"""Exact unlearning with sharded LoRA adapters (SISA for parameter-efficient fine-tuning, as in
"Towards Scalable Exact Machine Unlearning Using Parameter-Efficient Fine-Tuning").

The memories are split into K disjoint shards; each shard gets its own LoRA adapter, trained
from the *base* model on that shard's memories only. The served model is a routed model
(routing.py): K plain checkpoints kept apart,

    model_k = W_base + ΔW_k        ΔW_k = (α/r) B_k A_k    (one merged checkpoint per shard)

and each input is answered by the shard under which it is most likely (`compose_routed`).
Adapter k depends on nothing but the base and shard k, and the router on nothing but the shard
models. Erasing a memory of shard k: retrain adapter k from the base without it and recompose:
the result is exactly the routed model that would have been built had the memory never been
there, at the cost of one shard's training instead of all of them.

Routed, not summed: `compose(base, all adapters)` (W_base + Σ_k ΔW_k, one checkpoint) makes
the shards' deltas collide (each fires on the other shards' prompts) and the summed model loses
the memories it was trained on; an average (1/K each) loses them too. `compose` stays for one
adapter (a shard's model) and for the bench's comparison. `reproduced` reports which memories
the served (routed or plain) model completes; the ledger records it.
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
from .routing import extraction_target, shard_dir, write_routing

__all__ = ["ShardResult", "train_adapter", "compose", "compose_routed", "shard_texts", "reproduced"]

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


def compose_routed(base_dir: Path, adapter_dirs: Sequence[Path], out_dir: Path, *, device: str = "cpu") -> Path:
    """The routed model of these adapters at `out_dir`: shard i = base + adapter i merged, saved to
    `shard_dir(out_dir, i)` (an empty shard's adapter directory gives the base itself), and
    routing.json + the tokenizer at the top. Deterministic: the same base and adapters give
    the same shard weights."""
    from transformers import AutoTokenizer

    if not adapter_dirs:
        raise EditingError("a routed model needs at least one shard")
    out = Path(out_dir)
    for i, d in enumerate(adapter_dirs):
        compose(base_dir, [d], shard_dir(out, i), device=device)
    tok = AutoTokenizer.from_pretrained(str(shard_dir(out, 0)), local_files_only=True)
    write_routing(out, len(adapter_dirs), tok)
    return out


def shard_texts(memories: Mapping[str, str], shards: Mapping[str, int], k: int) -> dict[int, list[str]]:
    """shard -> its memories' texts (in id order)."""
    out: dict[int, list[str]] = {i: [] for i in range(k)}
    for mid in sorted(memories):
        out[shards[mid]].append(memories[mid])
    return out


def reproduced(model_dir: Path, texts: Sequence[str], *, device: str = "cpu") -> list[bool]:
    """Per text: the model at `model_dir` (routed: each probe answered by its shard) completes every
    fact greedily."""
    from .verify import extraction_report

    if not texts:
        return []
    model, tok = extraction_target(model_dir, device=device)
    return [t.extracted_all for t in extraction_report(model, tok, list(texts), device=torch.device(device)).per_text]
