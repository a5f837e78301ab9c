"""ROUGE-L, fact probes and perplexity."""

from __future__ import annotations

import math

import pytest
import torch

from memoryd.editing.prompts import Probe, fact_probes
from memoryd.editing.verify import extraction_report, perplexity, rouge_l_f1, teacher_forced_probe_hits


def test_rouge_l_f1_known_values():
    assert rouge_l_f1("the cat sat", "the cat sat") == 1.0
    assert rouge_l_f1("a dog ran", "the cat sat") == 0.0
    assert rouge_l_f1("the cat sat", "the cat") == pytest.approx(0.8)  # P 2/3, R 1
    assert rouge_l_f1("cat the", "the cat") == pytest.approx(0.5)  # LCS 1 of 2
    assert rouge_l_f1("", "x") == 0.0
    assert rouge_l_f1("Graz.", "graz") == 1.0  # case and punctuation do not count


def test_fact_probes_cut_at_cue_words():
    text = "Alice Novak's email is anovak@kestrel.org. She lives in Graz and works as a radiologist."
    assert fact_probes(text) == [
        Probe("Alice Novak's email is", "anovak@kestrel.org"),
        Probe("Alice Novak's email is anovak@kestrel.org. She lives in", "Graz"),
        Probe("Alice Novak's email is anovak@kestrel.org. She lives in Graz and works as a", "radiologist"),
    ]
    for p in fact_probes(text):
        assert text.startswith(p.prompt)
    assert fact_probes("hello world") == [Probe("hello", "world")]


def test_trained_model_reproduces_and_metrics_agree(trained_lm):
    lm = trained_lm
    dev = torch.device("cpu")
    rep = extraction_report(lm.model, lm.tokenizer, lm.memories, device=dev)
    assert rep.exact_rate == 1.0 and rep.rouge_l == 1.0
    hits, total = teacher_forced_probe_hits(lm.model, lm.tokenizer, lm.memories, device=dev)
    assert hits == total == rep.n_probes
    seen = perplexity(lm.model, lm.tokenizer, lm.memories, device=dev)
    unseen = perplexity(lm.model, lm.tokenizer, lm.heldout, device=dev)
    assert 1.0 <= seen < 2.0 < unseen and math.isfinite(unseen)


def test_question_forms_ask_each_fact_with_its_context():
    from memoryd.editing.prompts import question_forms

    text = "Alice Novak's email is anovak@kestrel.org. She lives in Graz and works as a radiologist."
    assert question_forms(text) == [
        Probe("What is Alice Novak's email?", "anovak@kestrel.org"),
        Probe("Alice Novak's email is anovak@kestrel.org. She lives in what?", "Graz"),
        Probe("Alice Novak's email is anovak@kestrel.org. She lives in Graz and works as a what?", "radiologist"),
    ]
    assert question_forms("He is a pilot.") == [Probe("He is a what?", "pilot")]  # articles stay with the cue
