"""Routed serving of a sharded model: each input answered by one shard's model (SISA).

The exact path trains K LoRA adapters, one per disjoint shard of the memories, each from the
same base (shards.py). Summing their deltas into one checkpoint makes them collide (a shard's
delta fires on every other shard's prompts), so a routed model keeps the K shard models apart,

    model_k = base + ΔW_k          (merged; a plain checkpoint per shard)

and answers an input x with the shard under which x is most likely:

    route(x) = argmax_k  log p_k(x)  =  argmin_k  mean NLL_k(x)

the posterior over shards with a uniform prior, as Branch-Train-Merge ("Branch-Train-Merge:
Embarrassingly Parallel Training of Expert Language Models", Li et al. 2022) weighs its
experts, taken at its mode. The router has no parameters and stores nothing: it is a function
of the shard models alone, so a routed model rebuilt after an erasure (the affected shard
retrained from the base without the erased memories) is exactly the routed model that would
have been built had they never been there. A prompt about an erased memory is routed to
whichever shard it is least surprising to, and no shard ever saw it.

On disk a routed model is a directory with `routing.json` ({"format": 1, "kind":
"routed-shards", "k": K}), the tokenizer, and `shard-<k>/` plain checkpoints. `RoutedModel`
is what the verification and attack code accepts in place of a single model
(`probe_predictions`, Min-K% scores, output features, relearning dispatch on it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from ..errors import EditingError

__all__ = ["RoutedModel", "ROUTING_FILE", "is_routed", "shard_dir", "write_routing", "load_routed",
           "mean_nll", "split_by_route", "extraction_target"]

ROUTING_FILE = "routing.json"
ROUTING_FORMAT = 1


def mean_nll(model: nn.Module, tokenizer, texts: Sequence[str], *, device: torch.device,
             batch_size: int = 64) -> list[float]:
    """Per text: mean next-token NLL of its tokens after <bos> (no <eos>: a prompt is open)."""
    from .logprob import token_logprobs

    return [float(-v.mean()) if v.numel() else 0.0
            for v in token_logprobs(model, tokenizer, texts, device=device, eos=False, max_length=None,
                                    batch_size=batch_size)]


class RoutedModel:
    """K shard models sharing one tokenizer; `route` sends each input to one of them."""

    def __init__(self, models: Sequence[nn.Module], tokenizer, *, device: torch.device | str = "cpu"):
        if not models:
            raise EditingError("a routed model needs at least one shard")
        self.models = list(models)
        self.tokenizer = tokenizer
        self.device = torch.device(device)

    @property
    def k(self) -> int:
        return len(self.models)

    def route(self, texts: Sequence[str]) -> list[int]:
        """Per text: the shard under which it is most likely (ties: the lowest shard)."""
        if not texts:
            return []
        if self.k == 1:
            return [0] * len(texts)
        nll = [mean_nll(m, self.tokenizer, texts, device=self.device) for m in self.models]  # (k, n)
        return [min(range(self.k), key=lambda i: (nll[i][j], i)) for j in range(len(texts))]

    def map_models(self, fn: Callable[[nn.Module], nn.Module]) -> RoutedModel:
        """A routed model whose shard models are fn(each) (e.g. a fine-tuned copy of each)."""
        return RoutedModel([fn(m) for m in self.models], self.tokenizer, device=self.device)


def split_by_route(routes: Sequence[int]) -> dict[int, list[int]]:
    """shard -> the positions routed to it, in order."""
    out: dict[int, list[int]] = {}
    for j, r in enumerate(routes):
        out.setdefault(r, []).append(j)
    return out


def is_routed(model_dir: Path) -> bool:
    return (Path(model_dir) / ROUTING_FILE).is_file()


def shard_dir(model_dir: Path, shard: int) -> Path:
    return Path(model_dir) / f"shard-{shard}"


def write_routing(model_dir: Path, k: int, tokenizer) -> None:
    """Mark `model_dir` as a routed model of `k` shards (the shard checkpoints are written by the
    caller into `shard_dir(model_dir, i)`); the tokenizer is saved at the top as well."""
    d = Path(model_dir)
    d.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(d))
    (d / ROUTING_FILE).write_text(json.dumps({"format": ROUTING_FORMAT, "kind": "routed-shards", "k": k}),
                                  encoding="utf-8")


def load_routed(model_dir: Path, *, device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32) -> RoutedModel:
    """The routed model saved at `model_dir` (EditingError if it is not one or a shard is missing)."""
    from .loading import load_model

    d = Path(model_dir)
    try:
        doc = json.loads((d / ROUTING_FILE).read_text(encoding="utf-8"))
        k = int(doc["k"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EditingError(f"no routed model at {d} ({ROUTING_FILE} missing or unreadable)") from exc
    if doc.get("format") != ROUTING_FORMAT or k < 1:
        raise EditingError(f"unsupported routed model at {d}: {doc}")
    models, tok = [], None
    for i in range(k):
        m, t = load_model(shard_dir(d, i), device=device, dtype=dtype)
        models.append(m)
        tok = tok or t
    return RoutedModel(models, tok, device=device)


def extraction_target(model_dir: Path, *, device: str | torch.device = "cpu",
                      dtype: torch.dtype = torch.float32) -> tuple[nn.Module | RoutedModel, object]:
    """(model, tokenizer) to query: the routed model when `model_dir` is one, else the plain
    checkpoint (what `probe_predictions` / `extraction_report` / `perplexity` accept)."""
    from .loading import load_model

    if is_routed(model_dir):
        rm = load_routed(model_dir, device=device, dtype=dtype)
        return rm, rm.tokenizer
    return load_model(model_dir, device=device, dtype=dtype)
