"""Which layers to edit: where forget activations sit farthest from refusal activations.

score(l) = ‖mean_F(l) − mean_R(l)‖ / mean‖h(l)‖ over the forget and refusal residual streams after l, so
layers are compared on a relative scale. The top-n layers by score are edited, lowest first.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .keys import Activations

__all__ = ["layer_scores", "choose_layers"]


def layer_scores(forget: Mapping[int, Activations], refusal: Mapping[int, Activations]) -> dict[int, float]:
    out: dict[int, float] = {}
    for layer, f in forget.items():
        r = refusal[layer]
        gap = torch.linalg.vector_norm(f.hidden.mean(0) - r.hidden.mean(0))
        scale = torch.cat([f.hidden, r.hidden]).norm(dim=1).mean().clamp_min(1e-12)
        out[layer] = float(gap / scale)
    return out


def choose_layers(forget: Mapping[int, Activations], refusal: Mapping[int, Activations], n: int) -> tuple[int, ...]:
    scores = layer_scores(forget, refusal)
    best = sorted(scores, key=lambda layer: -scores[layer])[: max(1, n)]
    return tuple(sorted(best))
