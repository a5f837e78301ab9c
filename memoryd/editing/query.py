"""Query a served model: the greedy continuation of a prompt (`memoryd models complete`).

A plain checkpoint answers itself; a routed model (routing.py) answers with the shard the
prompt routes to, and says which one. Metrics-free and stateless: nothing is written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..errors import EditingError
from .decode import greedy_continue
from .routing import RoutedModel, extraction_target

__all__ = ["Completion", "complete"]


@dataclass(frozen=True)
class Completion:
    prompt: str
    completion: str  # the greedy continuation, special tokens dropped
    max_tokens: int
    routed: bool
    shard: int | None  # the shard that answered (routed models only)
    k: int | None  # shards in the routed model

    def to_dict(self) -> dict:
        return asdict(self)


def complete(model_dir: Path, prompt: str, *, max_tokens: int = 32, device: str | torch.device = "cpu") -> Completion:
    """Greedy continuation of `prompt` by the model at `model_dir` (plain or routed)."""
    if not prompt.strip():
        raise EditingError("the prompt is empty")
    if max_tokens < 1:
        raise EditingError("max_tokens must be positive")
    dev = torch.device(device)
    model, tok = extraction_target(Path(model_dir), device=dev)
    shard = k = None
    if isinstance(model, RoutedModel):
        k = model.k
        (shard,) = model.route([prompt])
        model = model.models[shard]
    (text,) = greedy_continue(model, tok, [prompt], max_tokens, dev)
    return Completion(prompt, text, max_tokens, k is not None, shard, k)
