"""Helpers for the exact-path tests: a small *pretrained* base (LoRA adapts a pretrained model;
a random one gives it nothing to steer) and a sharded adaptation through the real App."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import torch

from memoryd.editing.adapt import AdaptConfig, train_on_texts
from memoryd.editing.loading import save_model
from corpus_helpers import make_profiles, refusal_corpus
from memoryd.editing.tiny import TinyConfig, build_tiny
from memoryd.models import NewMemory

BASE = TinyConfig(vocab_size=1024, hidden_size=128, intermediate_size=512, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=4)
PRETRAIN = AdaptConfig(max_epochs=40, lr=5e-3, batch_size=16, check_every=0, warmup_steps=5, check_absorbed=False)
LORA = AdaptConfig(max_epochs=150, lr=5e-3, batch_size=4, check_every=5, check_below_loss=3.0, settle_epochs=3,
                   warmup_steps=5, lora=True, lora_r=16, lora_alpha=32)
K = 4


def pretrained_base(root: Path) -> Path:
    """A tiny Llama trained briefly on unrelated profiles (the generic 'pretraining')."""
    out = root / "base"
    if not out.is_dir():
        generic = [p.text for p in make_profiles(40, seed=99)[8:]]
        torch.manual_seed(0)
        model, tok = build_tiny(generic + refusal_corpus(1), None, BASE)
        train_on_texts(model, tok, generic + refusal_corpus(2), PRETRAIN)
        save_model(model, tok, out)
    return out


def adapt_sharded(app, tmp_path: Path, base_cache: Path, n: int = 8, k: int = K):
    base = tmp_path / "base"
    shutil.copytree(pretrained_base(base_cache), base)
    texts = [p.text for p in make_profiles(n, seed=11)]
    mems = [app.memories.remember(NewMemory(content=t, namespace="people")).memory for t in texts]
    out = tmp_path / "models" / "people-lm"
    data = app.models.adapt(base, out, namespace="people", config=LORA, shards=k)
    return data, mems, out


def shard_tensors(model_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    """Every shard checkpoint's tensors of a routed model: shard dir name -> {tensor name: tensor}."""
    from safetensors.torch import load_file

    return {d.name: {n: t for f in sorted(d.glob("*.safetensors")) for n, t in load_file(str(f)).items()}
            for d in sorted(model_dir.glob("shard-*"))}


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
