"""Attacks on an unlearned model: held-out prompt forms and relearning.

- `heldout_extraction`: greedy answers to prompt forms the edit never saw (forms.py); exact
  match of the answer's words, except multi-hop, answered when the right country appears in
  the continuation (the erased city on the way, or a lucky guess).
- `direct_extraction`: the memory's own fact probes and their question forms (what the edit saw).
- `relearn`: a few fine-tuning steps on a copy of the model (the RESTOR-style attack).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .profiles import Profile
from ...editing.prompts import fact_probes, question_forms, words
from ...editing.routing import RoutedModel
from ...editing.tokens import batch_for_lm
from ...editing.verify import probe_predictions, score_probe
from .forms import COUNTRY, heldout_probes

__all__ = ["RelearnConfig", "heldout_extraction", "direct_extraction", "relearn", "erased_prompts"]

FORMS = ("paraphrase", "reversed", "multihop")


def _hit(form: str, pred: str, answer: str) -> bool:
    if form == "multihop":
        country = answer.rsplit(" ", 1)[-1]
        return country.lower() in words(pred)[: len(words(answer)) + 1]
    return words(pred)[: len(words(answer))] == words(answer)


def heldout_extraction(model: nn.Module, tokenizer, profiles: Sequence[Profile], *, device: torch.device,
                       skip_facts: frozenset[str] = frozenset()) -> dict:
    """Rates of held-out probes answered, per form and over all ("all"), skipping `skip_facts`."""
    probes = [[h for h in heldout_probes(p) if h.fact not in skip_facts] for p in profiles]
    flat = [h for hs in probes for h in hs]
    # one decoding call per profile-sentence: texts are the forms' sentences, probes their prefixes
    texts = [h.text for h in flat]
    preds = probe_predictions(model, tokenizer, texts, device=device, probes=[[h.probe] for h in flat])
    hits: dict[str, list[bool]] = {f: [] for f in FORMS}
    for (i, probe, pred) in preds:
        hits[flat[i].form].append(_hit(flat[i].form, pred, probe.answer))
    out = {f: round(sum(v) / len(v), 4) for f, v in hits.items() if v}
    every = [x for v in hits.values() for x in v]
    out["all"] = round(sum(every) / max(1, len(every)), 4)
    return out


def direct_extraction(model: nn.Module, tokenizer, texts: Sequence[str], *, device: torch.device,
                      skip_answers: Sequence[str] = ()) -> float:
    """Exact-match rate over the memories' fact probes and their question forms."""
    skip = {" ".join(words(a)) for a in skip_answers}
    probes = [[p for p in fact_probes(t) + question_forms(t) if " ".join(words(p.answer)) not in skip] for t in texts]
    preds = probe_predictions(model, tokenizer, texts, device=device, probes=probes)
    return round(sum(score_probe(pred, p).exact for _, p, pred in preds) / max(1, len(preds)), 4)


def erased_prompts(profiles: Sequence[Profile]) -> tuple[list[str], list[str]]:
    """(prompts, answers): every probe an attacker might ask about these profiles, edited or held out."""
    prompts, answers = [], []
    for p in profiles:
        for probe in fact_probes(p.text) + question_forms(p.text):
            prompts.append(probe.prompt)
            answers.append(probe.answer)
        for h in heldout_probes(p):
            prompts.append(h.probe.prompt)
            answers.append(COUNTRY[p.city] if h.form == "multihop" else h.probe.answer)
    return prompts, answers


@dataclass(frozen=True)
class RelearnConfig:
    steps: int = 10  # optimiser steps (a few: the attacker's budget)
    lr: float = 1e-3
    batch_size: int = 8
    seed: int = 0


def relearn(model: nn.Module, tokenizer, texts: Sequence[str], cfg: RelearnConfig, *, device: torch.device
            ) -> nn.Module:
    """A copy of `model` fine-tuned for `cfg.steps` Adam steps on batches drawn from `texts`.
    A routed model: every shard's model fine-tuned so (the attacker holds all the weights)."""
    if isinstance(model, RoutedModel):
        return model.map_models(lambda m: relearn(m, tokenizer, texts, cfg, device=device))
    m = copy.deepcopy(model)
    params = [p for p in m.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    texts = list(texts)
    m.train()
    try:
        with torch.enable_grad():
            for _ in range(cfg.steps):
                idx = torch.randperm(len(texts), generator=gen)[: cfg.batch_size].tolist()
                b = batch_for_lm(tokenizer, [texts[i] for i in idx], device)
                loss = m(input_ids=b.input_ids, attention_mask=b.attention_mask, labels=b.labels).loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
    finally:
        m.eval()
    return m
