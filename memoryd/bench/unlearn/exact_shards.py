"""The exact path as a method of the attack suite: `exact_shards` (issue 20).

K LoRA adapters (editing/shards.py `train_adapter`), each trained from the same base the
retrained model starts from (`task.fresh()`, which never saw any profile) on one shard of the
profiles: a profile's memory text and all its other phrasings go to shard sha256(text) mod K;
the texts nobody erases (world facts, refusal sentences) go to every shard. Erasure retrains
only the shards that held an erased profile, from the base, without it.

Served routed (editing/routing.py), as `adapt --shards` serves it: K shard models (base + one
adapter each), every input answered by the shard under which it is most likely. (Summing the
adapters into one checkpoint was measured at stop 22: the deltas collide and the kept
profiles are lost, R-RL 0.000; it is not served.)

Its gold standard is its own recipe retrained from scratch: all K adapters trained from the
base without the erased profiles, from other seeds (`retrain_shards`). The suite measures the
exact path's membership leak and distinguishability against that, and also shows them against
the fully fine-tuned retrained model (a different kind of model: LoRA on a random base).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from torch import nn

from ...editing.adapt import AdaptConfig
from ...editing.loading import load_model, save_model
from ...editing.routing import RoutedModel, load_routed
from ...editing.shards import compose, compose_routed, train_adapter

__all__ = ["shard_of_text", "exact_shards", "train_shards", "erase_shards", "retrain_shards", "routed_model",
           "routed", "SHARDS", "shard_lora_config"]

SHARDS = 4


def shard_of_text(text: str, k: int) -> int:
    """The shard of a profile (by its memory text; stable, independent of the other profiles)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % k


def shard_lora_config(cfg: AdaptConfig) -> AdaptConfig:
    """The adapters' training: LoRA r = 16 on every projection, as `memoryd bench exact`."""
    return replace(cfg, lora=True, lora_r=16, lora_alpha=32, lr=5e-3, batch_size=8, max_epochs=150,
                   check_every=5, check_below_loss=8.0, settle_epochs=3, warmup_steps=5, check_absorbed=False)


def _corpus(task, k: int, drop: frozenset[str]) -> dict[int, list[str]]:
    groups: Mapping[str, Sequence[str]] = task.profile_texts or {t: [t] for t in [*task.forget, *task.retain]}
    in_groups = {t for ts in groups.values() for t in ts}
    shared = [t for t in task.retrain_corpus if t not in in_groups]  # world facts, refusals
    out: dict[int, list[str]] = {i: [] for i in range(k)}
    for mem, texts in groups.items():
        if mem not in drop:
            out[shard_of_text(mem, k)].extend(texts)
    return {i: ts + shared for i, ts in out.items()}


def train_shards(task, root: Path, k: int = SHARDS) -> dict[int, Path]:
    """The state before the erasure: the base saved to `root/base` and K adapters `root/a<k>`,
    each trained from it on its shard of every profile (erased ones included)."""
    cfg = shard_lora_config(task.adapt_cfg)
    save_model(task.fresh(), task.tokenizer, root / "base")
    before = _corpus(task, k, frozenset())
    adapters = {i: root / f"a{i}" for i in range(k)}
    for i in range(k):
        train_adapter(root / "base", i, before[i], adapters[i], cfg)
    return adapters


def erase_shards(task, root: Path, adapters: Mapping[int, Path], k: int = SHARDS) -> tuple[dict[int, Path], list[int]]:
    """The exact erasure of `task.forget`: only the shards that held it are trained again from
    the base without it (`root/r<k>`); every other adapter is kept as it is (same files)."""
    cfg = shard_lora_config(task.adapt_cfg)
    affected = sorted({shard_of_text(t, k) for t in task.forget})
    after = _corpus(task, k, frozenset(task.forget))
    out = dict(adapters)
    for i in affected:
        out[i] = root / f"r{i}"
        train_adapter(root / "base", i, after[i], out[i], cfg)
    return out, affected


def routed_model(root: Path, adapter: Path, name: str, device) -> nn.Module:
    """base + one shard's adapter (what a query routed to that shard is answered by)."""
    compose(root / "base", [adapter], root / name)
    return load_model(root / name, device=device)[0]


def routed(task, root: Path, adapters: Mapping[int, Path], name: str) -> RoutedModel:
    """The served model of the exact path, as `adapt --shards` builds it (`compose_routed`): the K
    shard models, each input routed by likelihood."""
    compose_routed(root / "base", [adapters[i] for i in sorted(adapters)], root / name)
    return load_routed(root / name, device=task.device)


def retrain_shards(task, root: Path, k: int = SHARDS, *, seed_offset: int = 1000) -> dict[int, Path]:
    """The exact path's own gold standard: all K adapters trained from the base on the corpus
    without `task.forget`, from other random seeds (a retraining is a fresh draw, not a replay)."""
    cfg = shard_lora_config(task.adapt_cfg)
    cfg = replace(cfg, seed=cfg.seed + seed_offset)
    after = _corpus(task, k, frozenset(task.forget))
    out = {i: root / f"g{i}" for i in range(k)}
    for i in range(k):
        train_adapter(root / "base", i, after[i], out[i], cfg)
    return out


def exact_shards(task, k: int = SHARDS, *, gold: bool = True) -> RoutedModel:
    """Train K shard adapters on everything (the state before the erasure), then erase
    `task.forget` by retraining the affected shards from the base. Returns the routed model
    (what `adapt --shards` serves); `unlearn_info` carries the timings, the shards touched and,
    with `gold`, the same recipe retrained from scratch without the erased profiles (other
    seeds), which the suite compares the exact path with."""
    with tempfile.TemporaryDirectory(prefix="exact-shards-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        adapters = train_shards(task, root, k)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        adapters, affected = erase_shards(task, root, adapters, k)
        erase_s = time.perf_counter() - t0
        model = routed(task, root, adapters, "m")
        info = {"seconds": round(erase_s, 3), "train_all_seconds": round(train_s, 3), "k": k,
                "shards_retrained": affected}
        if gold:
            t0 = time.perf_counter()
            info["gold"] = routed(task, root, retrain_shards(task, root, k), "gm")
            info["gold_seconds"] = round(time.perf_counter() - t0, 3)
    model.unlearn_info = info
    return model
