"""Unlearning methods as a registry of callables: `Method(task) -> edited model`.

Every method starts from `task.model` (the adapted model, never changed) and returns a new
model that should no longer hold `task.forget`; `retrain` starts from the base instead and
never sees the erased texts (the gold standard); `retrain_reseeded` does so again with another
seed, a second draw whose distance from `retrain` is the noise floor. A further method (e.g. an exact sharded path)
plugs in by adding an entry to `METHODS` or passing its own mapping to the attack suite.
`exact_shards` (exact_shards.py) is the exact path: K shard adapters from the base, erasure
retrains the affected shards only. A method may attach `unlearn_info` to the model it returns
(`seconds`: its own erasure cost; `routed`: per-shard models and their router, evaluated as a
second serving mode).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from ...editing.adapt import AdaptConfig, train_on_texts
from ...editing.stamp import StampConfig, apply_delta, compute_stamp_delta
from .baselines import GAConfig, SSDConfig, gradient_ascent, selective_synaptic_dampening
from .uno import UNOConfig, uno

__all__ = ["UnlearnTask", "Method", "METHODS", "stamp", "gradient_ascent_method", "ssd", "uno_method", "retrain",
           "retrain_reseeded", "exact_shards_method"]


@dataclass
class UnlearnTask:
    model: nn.Module  # the adapted model (read-only for every method)
    tokenizer: object
    forget: list[str]  # memory texts to erase (what an erasure request carries)
    retain: list[str]  # memory texts to keep
    device: torch.device
    fresh: Callable[[], nn.Module]  # the base model before adaptation (same initialisation)
    retrain_corpus: list[str]  # what retraining trains on: everything adapted on but the erased profiles
    retrain_reproduce: list[str]  # texts retraining must reproduce before it stops
    adapt_cfg: AdaptConfig
    stamp_cfg: StampConfig = field(default_factory=StampConfig)
    ga_cfg: GAConfig = field(default_factory=GAConfig)
    ssd_cfg: SSDConfig = field(default_factory=SSDConfig)
    uno_cfg: UNOConfig = field(default_factory=UNOConfig)
    # memory text -> every text of that profile the model learnt (memory + other phrasings);
    # the exact path shards by it. Empty: each memory text alone.
    profile_texts: Mapping[str, list[str]] = field(default_factory=dict)


Method = Callable[[UnlearnTask], nn.Module]


def stamp(task: UnlearnTask) -> nn.Module:
    m = copy.deepcopy(task.model)
    delta = compute_stamp_delta(m, task.tokenizer, task.forget, task.retain, task.stamp_cfg, task.device,
                                next(m.parameters()).dtype)
    apply_delta(m, delta)
    return m


def gradient_ascent_method(task: UnlearnTask) -> nn.Module:
    m = copy.deepcopy(task.model)
    gradient_ascent(m, task.tokenizer, task.forget, task.ga_cfg, device=task.device)
    return m


def ssd(task: UnlearnTask) -> nn.Module:
    m = copy.deepcopy(task.model)
    selective_synaptic_dampening(m, task.tokenizer, task.forget, task.retain, task.ssd_cfg, device=task.device)
    return m


def uno_method(task: UnlearnTask) -> nn.Module:
    m = copy.deepcopy(task.model)
    uno(m, task.tokenizer, task.forget, task.retain, task.uno_cfg, device=task.device)
    return m


def retrain(task: UnlearnTask) -> nn.Module:
    m = task.fresh().to(task.device)
    train_on_texts(m, task.tokenizer, task.retrain_corpus, task.adapt_cfg, must_reproduce=task.retrain_reproduce)
    return m


def retrain_reseeded(task: UnlearnTask) -> nn.Module:
    """Retraining again, with another data-order seed: a second draw of the gold standard. How
    far it is from `retrain` is the resolution of the suite's comparisons (the noise floor)."""
    m = task.fresh().to(task.device)
    cfg = replace(task.adapt_cfg, seed=task.adapt_cfg.seed + 1000)
    train_on_texts(m, task.tokenizer, task.retrain_corpus, cfg, must_reproduce=task.retrain_reproduce)
    return m


def exact_shards_method(task: UnlearnTask) -> nn.Module:
    from .exact_shards import exact_shards

    return exact_shards(task)


METHODS: dict[str, Method] = {"stamp": stamp, "gradient_ascent": gradient_ascent_method, "ssd": ssd,
                              "uno": uno_method, "exact_shards": exact_shards_method,
                              "retrain_reseeded": retrain_reseeded, "retrain": retrain}
