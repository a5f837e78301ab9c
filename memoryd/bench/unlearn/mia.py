"""Membership inference and distinguishability, the attacker's side of the unlearning bench.

- Min-K% probability (Shi et al. 2024): the mean log-probability of a text's k% least likely
  tokens; a model scores texts it was trained on higher. MUSE's PrivLeak compares the AUC of
  this score between erased and never-seen texts with the retrained model's:
  (AUC_method - AUC_retrain) / AUC_retrain × 100 (0 is perfect, > 0 under-, < 0 over-unlearning).
- Output features of a model on prompts (top-1 probability, entropy, refusal-token probability,
  the true answer's first-token log-probability) and a cross-validated logistic regression that
  tells two models apart from them (0.5 = chance).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ...editing.prompts import REFUSAL_PROMPTS
from ...editing.routing import RoutedModel, split_by_route
from ...editing.logprob import token_logprobs
from ...editing.tokens import encode, left_pad

__all__ = ["min_k_scores", "auc", "privleak", "output_features", "distinguish_accuracy"]


@torch.no_grad()
def min_k_scores(model: nn.Module, tokenizer, texts: Sequence[str], *, device: torch.device, k: float = 0.2,
                 batch_size: int = 32) -> list[float]:
    """Per text: mean log p of its ceil(k·n) lowest-probability tokens (n tokens after <bos>).
    A routed model scores each text with the shard the text routes to."""
    if isinstance(model, RoutedModel):
        return _routed(model, texts, lambda m, idx: min_k_scores(m, tokenizer, [texts[j] for j in idx],
                                                                 device=device, k=k, batch_size=batch_size))
    out: list[float] = []
    for vals in token_logprobs(model, tokenizer, texts, device=device, batch_size=batch_size):
        n = max(1, math.ceil(k * vals.numel()))
        out.append(float(vals.sort().values[:n].mean()))
    return out


def _routed(model: RoutedModel, texts: Sequence[str], score) -> list:
    """score(shard model, positions) for each shard's share of `texts`, reassembled in order."""
    out: list = [None] * len(texts)
    for shard, idx in split_by_route(model.route(list(texts))).items():
        for j, v in zip(idx, score(model.models[shard], idx), strict=True):
            out[j] = v
    return out


def auc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """P(score of a positive > score of a negative), ties counting half (Mann-Whitney)."""
    if not pos or not neg:
        return math.nan
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def privleak(auc_method: float, auc_retrain: float) -> float:
    """MUSE's PrivLeak in percent: the AUC gap to the retrained model, relative to it."""
    return (auc_method - auc_retrain) / auc_retrain * 100.0


@torch.no_grad()
def output_features(model: nn.Module, tokenizer, prompts: Sequence[str], answers: Sequence[str], *,
                    device: torch.device, batch_size: int = 64) -> np.ndarray:
    """(n, 4) per prompt, from the next-token distribution after it: top-1 probability, entropy,
    probability of the refusal sentences' first tokens, log-probability of the answer's first token."""
    if isinstance(model, RoutedModel):  # each prompt answered by the shard it routes to
        rows_by = _routed(model, prompts, lambda m, idx: list(output_features(
            m, tokenizer, [prompts[j] for j in idx], [answers[j] for j in idx], device=device,
            batch_size=batch_size)))
        return np.asarray(rows_by, dtype=np.float64)
    refusal_ids = sorted({encode(tokenizer, r)[1] for r in REFUSAL_PROMPTS})
    rows: list[list[float]] = []
    for s in range(0, len(prompts), batch_size):
        chunk = list(prompts[s : s + batch_size])
        ids, mask = left_pad([encode(tokenizer, p) for p in chunk], tokenizer.pad_token_id, device)
        pos = (mask.cumsum(-1) - 1).clamp_min(0)  # positions that ignore the left padding
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -1]  # (b, vocab)
        probs = torch.softmax(logits.double(), dim=-1)  # (b, vocab)
        for row, ans in enumerate(answers[s : s + batch_size]):
            p = probs[row]
            first = tokenizer(" " + ans, add_special_tokens=False)["input_ids"][0]
            rows.append([float(p.max()), float(-(p * p.clamp_min(1e-30).log()).sum()),
                         float(p[refusal_ids].sum()), float(p[first].clamp_min(1e-30).log())])
    return np.asarray(rows, dtype=np.float64)


def _fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2, steps: int = 500, lr: float = 0.5
                  ) -> np.ndarray:
    w = np.zeros(x.shape[1])
    for _ in range(steps):  # full-batch gradient descent on the mean log-loss (convex, small)
        p = 1 / (1 + np.exp(-(x @ w)))
        w -= lr * (x.T @ (p - y) / len(y) + l2 * np.r_[0.0, w[1:]])
    return w


def distinguish_accuracy(a: np.ndarray, b: np.ndarray, *, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated accuracy of a logistic regression telling rows of `a` (model A's outputs)
    from rows of `b` (model B's on the same prompts). Standardised on each training fold; 0.5 = chance."""
    x = np.vstack([a, b])
    y = np.r_[np.zeros(len(a)), np.ones(len(b))]
    order = np.random.default_rng(seed).permutation(len(y))
    correct = 0
    for f in range(folds):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-9
        xt = np.c_[np.ones(len(train)), (x[train] - mu) / sd]
        w = _fit_logistic(xt, y[train])
        pred = (np.c_[np.ones(len(test)), (x[test] - mu) / sd] @ w) > 0
        correct += int((pred == y[test].astype(bool)).sum())
    return correct / len(y)
