"""Did the model forget? Greedy extraction of each fact, ROUGE-L, and perplexity.

- exact match: the greedy continuation of a probe's prompt starts with its answer (word-normalised)
- ROUGE-L F1 (LCS over lower-cased alphanumeric words) between the first n predicted words and
  the n-word answer: F-RL on the forget set, R-RL on a retain set (the RePAIR paper's metrics)
- perplexity: exp(mean next-token NLL) on held-out texts
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .decode import greedy_continue, probe_continuations
from .logprob import token_logprobs
from .prompts import Probe, fact_probes, words
from .routing import RoutedModel, split_by_route
from .tokens import answer_tokens, batch_for_lm

__all__ = [
    "rouge_l_f1", "words", "greedy_continue", "ProbeResult", "TextExtraction", "ExtractionReport", "score_probe",
    "probe_predictions",
    "extraction_report", "perplexity",
]

log = logging.getLogger(__name__)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l_f1(prediction: str, reference: str) -> float:
    """ROUGE-L F1 over alphanumeric words; 0.0 when either side has no words."""
    p, r = words(prediction), words(reference)
    lcs = _lcs(p, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class ProbeResult:
    exact: bool
    rouge_l: float


@dataclass(frozen=True)
class TextExtraction:
    probes: tuple[ProbeResult, ...]

    @property
    def n_exact(self) -> int:
        return sum(p.exact for p in self.probes)

    @property
    def extracted_all(self) -> bool:
        return bool(self.probes) and self.n_exact == len(self.probes)

    @property
    def rouge_l(self) -> float:
        return sum(p.rouge_l for p in self.probes) / max(1, len(self.probes))


@dataclass(frozen=True)
class ExtractionReport:
    per_text: tuple[TextExtraction, ...]

    @property
    def n_probes(self) -> int:
        return sum(len(t.probes) for t in self.per_text)

    @property
    def exact_rate(self) -> float:
        """Fraction of fact probes the model completes exactly (Acc_f / Acc_r style)."""
        return sum(t.n_exact for t in self.per_text) / max(1, self.n_probes)

    @property
    def any_fact_rate(self) -> float:
        """Fraction of texts with at least one fact still extractable."""
        return sum(t.n_exact > 0 for t in self.per_text) / max(1, len(self.per_text))

    @property
    def rouge_l(self) -> float:
        """Mean ROUGE-L F1 over all probes (F-RL on a forget set, R-RL on a retain set)."""
        return sum(p.rouge_l for t in self.per_text for p in t.probes) / max(1, self.n_probes)

    def to_dict(self) -> dict:
        return {"texts": len(self.per_text), "probes": self.n_probes, "exact_rate": round(self.exact_rate, 4),
                "any_fact_rate": round(self.any_fact_rate, 4), "rouge_l": round(self.rouge_l, 4)}


def score_probe(prediction: str, probe: Probe) -> ProbeResult:
    """Exact match and ROUGE-L F1 of the first n predicted words against the n-word answer."""
    ref = words(probe.answer)
    pred = words(prediction)[: len(ref)]
    return ProbeResult(exact=bool(ref) and pred == ref, rouge_l=rouge_l_f1(" ".join(pred), probe.answer))


def probe_predictions(
    model: nn.Module, tokenizer, texts: Sequence[str], *, device: torch.device,
    probes: Sequence[Sequence[Probe]] | None = None,
) -> list[tuple[int, Probe, str]]:
    """(text index, probe, greedy continuation) for every fact probe of every text, decoded up to
    the answer's length + 2 tokens and only until its first n words are settled (all that
    `score_probe` reads)."""
    per_text_probes = [list(p) for p in probes] if probes is not None else [fact_probes(t) for t in texts]
    flat = [(i, p) for i, ps in enumerate(per_text_probes) for p in ps]
    if isinstance(model, RoutedModel):  # each probe's prompt answered by the shard it routes to
        preds: list[str] = [""] * len(flat)
        for shard, rows in split_by_route(model.route([p.prompt for _, p in flat])).items():
            texts_i = sorted({flat[j][0] for j in rows})
            at = {i: n for n, i in enumerate(texts_i)}
            sub: list[list[Probe]] = [[] for _ in texts_i]
            for j in rows:
                sub[at[flat[j][0]]].append(flat[j][1])
            got = probe_predictions(model.models[shard], tokenizer, [texts[i] for i in texts_i], device=device,
                                    probes=sub)
            for (_, _, pred), j in zip(got, rows, strict=True):  # both in (text, probe) order
                preds[j] = pred
        return [(i, p, pred) for (i, p), pred in zip(flat, preds)]
    budgets = [len(tokenizer(" " + p.answer, add_special_tokens=False)["input_ids"]) + 2 for _, p in flat]
    preds = probe_continuations(model, tokenizer, texts, per_text_probes, budgets, device,
                                settle_words=[len(words(p.answer)) for _, p in flat])
    return [(i, p, pred) for (i, p), pred in zip(flat, preds)]


def extraction_report(
    model: nn.Module, tokenizer, texts: Sequence[str], *, device: torch.device,
    probes: Sequence[Sequence[Probe]] | None = None,
) -> ExtractionReport:
    """Greedy-decode every fact probe of every text and score it against the memory."""
    results: list[list[ProbeResult]] = [[] for _ in (probes if probes is not None else texts)]
    for i, probe, pred in probe_predictions(model, tokenizer, texts, device=device, probes=probes):
        results[i].append(score_probe(pred, probe))
    return ExtractionReport(tuple(TextExtraction(tuple(r)) for r in results))


@torch.no_grad()
def perplexity(model: nn.Module, tokenizer, texts: Sequence[str], *, device: torch.device,
               batch_size: int = 32) -> float:
    """exp(mean next-token NLL) over `texts` (each as <bos> text <eos>)."""
    if not texts:
        return math.nan
    if isinstance(model, RoutedModel):  # each text scored by the shard it routes to
        lps = [v for shard, rows in split_by_route(model.route(texts)).items()
               for v in token_logprobs(model.models[shard], tokenizer, [texts[j] for j in rows], device=device,
                                       batch_size=batch_size)]
    else:
        lps = token_logprobs(model, tokenizer, texts, device=device, batch_size=batch_size)
    n = sum(v.numel() for v in lps)
    return math.exp(-float(sum(v.sum() for v in lps)) / max(1, n))


def _probe_results(model: nn.Module, tokenizer, texts: Sequence[str], device: torch.device,
                   batch_size: int) -> list[list[bool]]:
    """Per text, per fact probe: is the argmax at every answer token the memory's own token,
    under teacher forcing? One forward pass per batch (no generation)."""
    out: list[list[bool]] = []
    for s in range(0, len(texts), batch_size):
        chunk = list(texts[s : s + batch_size])
        b = batch_for_lm(tokenizer, chunk, device)
        pred = model(input_ids=b.input_ids, attention_mask=b.attention_mask).logits.argmax(-1)  # (b, t)
        for row, text in enumerate(chunk):
            offsets = tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
            out.append([all(int(pred[row, i - 1]) == int(b.input_ids[row, i])
                            for i in answer_tokens(offsets, text, probe)) for probe in fact_probes(text)])
    return out


@torch.no_grad()
def teacher_forced_reproduced(model: nn.Module, tokenizer, texts: Sequence[str], *, device: torch.device,
                              batch_size: int = 32) -> list[bool]:
    """Per text: does the argmax at every answer token of every probe equal the memory's token?

    Token-exact teacher forcing on a prefix-probe implies the greedy continuation reproduces
    the answer, so this is a cheap stopping test.
    """
    return [all(probes) for probes in _probe_results(model, tokenizer, texts, device, batch_size)]


@torch.no_grad()
def teacher_forced_probe_hits(model: nn.Module, tokenizer, texts: Sequence[str], *, device: torch.device,
                              batch_size: int = 32) -> tuple[int, int]:
    """(probes whose every answer token is the argmax under teacher forcing, probes in total).

    Equivalent to greedy exact match at the token level, for the price of one forward pass.
    """
    results = _probe_results(model, tokenizer, texts, device, batch_size)
    return sum(map(sum, results)), sum(map(len, results))
