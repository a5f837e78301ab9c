"""The attack side of the unlearning bench (memoryd/bench/unlearn): UNO, Min-K% membership
inference, the output classifier, relearning, the held-out forms, on tiny trained models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from memoryd.bench.unlearn import (GAConfig, UNOConfig, gradient_ascent, render_unlearn_table,
                                   run_unlearn_benchmark, uno)
from memoryd.bench.unlearn.attacks import RelearnConfig, relearn
from memoryd.bench.unlearn.forms import COUNTRY, forms_texts, heldout_probes
from memoryd.bench.unlearn.mia import auc, distinguish_accuracy, min_k_scores, output_features, privleak
from memoryd.bench.unlearn.uno import orthogonalise
from corpus_helpers import make_profiles
from memoryd.editing.prompts import fact_probes
from memoryd.editing.tiny import TINY_TEST
from memoryd.editing.verify import extraction_report

CPU = torch.device("cpu")


def test_orthogonalise_removes_the_retain_directions():
    g = torch.tensor([1.0, 2.0, 3.0])
    out = orthogonalise(g, [torch.tensor([1.0, 0.0, 0.0]), torch.tensor([1.0, 1.0, 0.0])])
    assert torch.allclose(out, torch.tensor([0.0, 0.0, 3.0]), atol=1e-6)


def test_uno_keeps_retain_better_than_gradient_ascent_at_equal_steps(trained_lm):
    forget, retain = trained_lm.memories[:2], trained_lm.memories[2:]
    ga_lm, uno_lm = trained_lm.copy(), trained_lm.copy()
    gradient_ascent(ga_lm.model, ga_lm.tokenizer, forget, GAConfig(lr=1e-3, max_steps=5, stop_at_zero=False),
                    device=CPU)
    res = uno(uno_lm.model, uno_lm.tokenizer, forget, retain, UNOConfig(lr=1e-3, max_steps=5, stop_at_zero=False),
              device=CPU)
    assert res.steps == 5 and res.forgot
    ga_f, uno_f = (extraction_report(m.model, m.tokenizer, forget, device=CPU) for m in (ga_lm, uno_lm))
    ga_r, uno_r = (extraction_report(m.model, m.tokenizer, retain, device=CPU) for m in (ga_lm, uno_lm))
    assert ga_f.exact_rate == 0.0 and uno_f.exact_rate == 0.0  # both forget
    assert uno_r.rouge_l >= ga_r.rouge_l + 0.2, (uno_r.rouge_l, ga_r.rouge_l)  # UNO keeps far more


def test_min_k_scores_trained_text_above_unseen_text(trained_lm, random_lm):
    seen = min_k_scores(trained_lm.model, trained_lm.tokenizer, trained_lm.memories, device=CPU)
    unseen = min_k_scores(trained_lm.model, trained_lm.tokenizer, trained_lm.heldout, device=CPU)
    assert auc(seen, unseen) >= 0.95
    # an untrained model has no members: its AUC is far from the trained one's
    r_seen = min_k_scores(random_lm.model, random_lm.tokenizer, random_lm.memories, device=CPU)
    r_unseen = min_k_scores(random_lm.model, random_lm.tokenizer, random_lm.heldout, device=CPU)
    assert auc(r_seen, r_unseen) < 0.85
    assert privleak(0.5, 0.5) == 0.0 and privleak(0.75, 0.5) == 50.0


def test_classifier_separates_different_models_not_identical_ones(trained_lm, random_lm):
    probes = [p for t in trained_lm.memories for p in fact_probes(t)]
    prompts, answers = [p.prompt for p in probes], [p.answer for p in probes]
    a = output_features(trained_lm.model, trained_lm.tokenizer, prompts, answers, device=CPU)
    b = output_features(random_lm.model, random_lm.tokenizer, prompts, answers, device=CPU)
    assert a.shape == (len(prompts), 4) and np.isfinite(a).all()
    assert distinguish_accuracy(a, b) >= 0.9
    assert distinguish_accuracy(a, a.copy()) <= 0.6  # the same outputs: chance


def test_relearning_restores_facts_gradient_ascent_removed(trained_lm):
    lm = trained_lm.copy()
    forget = lm.memories[:1]
    gradient_ascent(lm.model, lm.tokenizer, forget, GAConfig(lr=1e-3, max_steps=50), device=CPU)
    assert extraction_report(lm.model, lm.tokenizer, forget, device=CPU).exact_rate == 0.0
    before = [p.detach().clone() for p in lm.model.parameters()]
    back = relearn(lm.model, lm.tokenizer, forget, RelearnConfig(steps=10, lr=1e-3), device=CPU)
    assert all(torch.equal(a, b) for a, b in zip(before, lm.model.parameters()))  # attacked a copy
    assert extraction_report(back, lm.tokenizer, forget, device=CPU).exact_rate >= 0.5


def test_heldout_forms_are_prefix_probes_of_the_trained_phrasings():
    for p in make_profiles(5, seed=2):
        texts = forms_texts(p)
        hs = heldout_probes(p)
        assert {h.form for h in hs} == {"paraphrase", "reversed", "multihop"}
        for h in hs:
            assert h.text in texts and h.text.startswith(h.probe.prompt)
            assert h.probe.prompt not in p.text  # never a prefix of the memory the edit sees
        assert any(COUNTRY[p.city] in t for t in texts)


@pytest.mark.slow  # adapts and retrains a tiny model on the held-out phrasings too, and 12 shard adapters
@pytest.mark.timeout(1800)
def test_benchmark_with_attacks_smoke():
    r = run_unlearn_benchmark(n_profiles=8, n_forget=2, n_heldout=3, n_sequential=0, repeats=1, model_cfg=TINY_TEST,
                              attacks=True, relearn_cfg=RelearnConfig(steps=3), scale_sizes=(1, 2), n_sustain=2)
    att = r["attacks"]
    assert set(att["methods"]) == {"stamp", "gradient_ascent", "ssd", "uno", "exact_shards", "exact_shards_gold",
                                   "retrain_reseeded", "retrain"}
    # the exact path: its cost is the retraining of the shards that held the erased profiles only
    ex = att["methods"]["exact_shards"]["info"]
    assert ex["k"] == 4 and ex["shards_retrained"] and ex["seconds"] < ex["wall_seconds"]
    # judged against its own recipe retrained from scratch, and shown against the full retrain too
    row = att["methods"]["exact_shards"]
    own = att["methods"]["exact_shards_gold"]
    assert row["gold"] == "exact_shards_gold" and own["gold"] == "retrain"  # the gold row itself: vs the full retrain
    auc_of = lambda r: r["mink"]["auc_erased_vs_unseen"]  # noqa: E731
    assert row["privleak"] == round((auc_of(row) - auc_of(own)) / auc_of(own) * 100, 2)
    assert set(row["vs_retrain"]) == {"privleak", "distinguish"} and set(row["pass_vs_retrain"]) == set(att["targets"])
    assert att["methods"]["stamp"]["gold"] == "retrain"
    assert att["before"]["heldout"]["all"] >= 0.8  # the adapted model answers the held-out forms
    gold = att["methods"]["retrain"]
    assert gold["privleak"] == 0.0 and gold["pass"]["heldout"]
    assert "pass" not in own  # a reference, not a method: no verdict of its own
    for name, row in att["methods"].items():
        assert 0.0 <= row["distinguish"] <= 1.0
        assert name == "exact_shards_gold" or set(row["pass"]) == set(att["targets"])
    assert [x["n"] for x in att["scalability"]["sizes"]] == [1, 2] and att["sustainability"]["requests"] == 2
    assert "uno" in r["methods"] and "unlearning under attack" in render_unlearn_table(r)
    json.dumps(r)
