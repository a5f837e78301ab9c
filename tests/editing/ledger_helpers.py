"""Helpers for the model-ledger tests: a tiny model adapted on profile memories through the
real App, and a check of what a saved model still completes."""

from __future__ import annotations

from pathlib import Path

import torch

from memoryd.editing.adapt import AdaptConfig
from memoryd.editing.routing import RoutedModel, extraction_target
from corpus_helpers import make_profiles, refusal_corpus
from memoryd.editing.prompts import fact_probes
from memoryd.editing.tiny import TINY_TEST, build_tiny
from memoryd.editing.verify import greedy_continue, words
from memoryd.models import NewMemory

CPU = torch.device("cpu")
ADAPT = AdaptConfig(max_epochs=200, lr=3e-3, batch_size=4, check_every=5, settle_epochs=5, warmup_steps=5)


def completes(model_dir: Path, text: str) -> list[bool]:
    """Per fact probe of `text`: the model at `model_dir` completes it greedily (a routed model:
    each probe answered by the shard its prompt routes to)."""
    model, tok = extraction_target(model_dir)
    probes = fact_probes(text)
    budgets = [len(tok(" " + p.answer, add_special_tokens=False)["input_ids"]) + 2 for p in probes]
    if isinstance(model, RoutedModel):
        routes = model.route([p.prompt for p in probes])
        preds = [greedy_continue(model.models[r], tok, [p.prompt], [b], CPU)[0]
                 for p, b, r in zip(probes, budgets, routes)]
    else:
        preds = greedy_continue(model, tok, [p.prompt for p in probes], budgets, CPU)
    return [words(pred)[: len(words(p.answer))] == words(p.answer) for p, pred in zip(probes, preds)]


def files_under(*roots: Path) -> list[Path]:
    out = []
    for r in roots:
        out += [r] if r.is_file() else [p for p in r.rglob("*") if p.is_file()]
    return out


def adapt_people(app, tmp_path):
    """Four profile memories in namespace 'people' (+ one elsewhere), a tiny base model whose
    tokenizer was trained on unrelated text (as a pretrained tokenizer would be), adapted."""
    texts = [p.text for p in make_profiles(4, seed=11)]
    unrelated = [p.text for p in make_profiles(40, seed=99)[8:]]
    base = tmp_path / "base"
    build_tiny(unrelated + refusal_corpus(1), base, TINY_TEST)
    mems = [app.memories.remember(NewMemory(content=t, namespace="people")).memory for t in texts]
    app.memories.remember(NewMemory(content="The staging cluster runs on three nodes.", namespace="ops"))
    out = tmp_path / "models" / "people-lm"
    data = app.models.adapt(base, out, namespace="people", config=ADAPT)
    return data, mems, out
