"""STAMP: Steering Through Activation Manipulation with PseudoInverse (RePAIR, 2026).

A training-free, closed-form erasure. For each edited layer l (lowest first):

1. keys    K  (n, m): down_proj inputs at the forget texts' fact positions (keys.py), read with
                      the edits of lower layers already active: one forward pass solves every
                      edited layer in turn (keys.walk);
           K_r      : down_proj inputs at every position of the retain texts;
2. values  V* (n, d): the forget values W K moved onto the refusal subspace, the affine span of
                      the model's own down_proj outputs on refusal prompts (values.py);
3. solve   ΔW (d, m): least squares with retain-covariance regularisation in float64 (solve.py;
                      retain.py: full, exact, in dual form O((n+n_r)²·m) when n_r ≤ m, else
                      O(m³); low-rank top-r retain subspace; Krylov; AlphaEdit null space).

Repair: the pending edit is checked by greedy decoding of every fact probe (hooks, no weight
change; decode.py shares each memory's KV cache among its probes); continuations that still
share a word with the erased answer add their own positions as forget keys and the layers are
solved again (`repair_rounds`).

`compute_stamp_delta` never changes the model; `apply_delta` adds ΔW and keeps the original
weights so `revert_delta` restores them bit for bit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import torch
from torch import nn

from ..errors import EditingError
from .keys import (Activations, KeySpec, all_positions, answer_positions, collect, down_weight, edits_active,
                   num_layers, probe_positions, walk)
from .layer import choose_layers, layer_scores
from .prompts import REFUSAL_PROMPTS, question_forms
from .retain import LayerStats, PreparedRetain
from .solve import SolveInputs, Solver
from .tokens import encode
from .values import refusal_subspace, target_values
from .verify import probe_predictions, score_probe

__all__ = ["StampConfig", "LayerStats", "EditDelta", "compute_stamp_delta", "stamp_floor", "apply_delta",
           "revert_delta"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StampConfig:
    layers: tuple[int, ...] | None = None  # None: pick `n_layers` by forget/refusal distance (layer.py)
    n_layers: int = 3
    positions: str = "answer"  # positions predicting fact tokens: "answer" all of them, "first" the first; or "all"
    question_forms: bool = True  # also edit each fact asked as a question (prompts.question_forms)
    refusal_rank: int = 16  # s, dimension of the refusal subspace
    target: str = "residual"  # refusal subspace of the residual stream after the layer, or of "value"s
    strength: float = 1.0  # α: 1 moves forget activations exactly onto the refusal subspace
    retain_weight: float = 1.0  # λ: cost of moving one retain key's output vs missing one forget target
    ridge: float = 1e-3  # ρ relative to the mean key energy
    solver: Solver | Literal["auto"] = "auto"  # "full" (exact), "lowrank" (top-r retain subspace), "krylov",
    # "nullspace"; "auto": full where that is cheap (n_r or m at most 2048), else lowrank (retain.py)
    rank: int = 256  # r for the lowrank and krylov solvers
    krylov_depth: int = 4  # Krylov blocks spanning the krylov subspace (1 = top-r forget keys)
    nullspace_threshold: float = 1e-3  # retain-key energy the AlphaEdit null space may hold
    repair_rounds: int = 2  # re-solve with the keys of continuations that still leak an answer word
    max_retain: int = 512  # retain texts read for K_r (evenly subsampled beyond this)
    exact_retain: bool = False  # K_r read with the lower layers' edits active (one pass per layer and
    # round) instead of once from the unedited model for every layer (the MEMIT approximation)
    refusal_prompts: tuple[str, ...] = REFUSAL_PROMPTS
    batch_size: int = 32
    walk_tokens: int = 32768  # one-pass walk up to this many (padded) tokens; beyond, one pass per layer in batches

    def __post_init__(self) -> None:
        if self.solver not in ("auto", "full", "lowrank", "krylov", "nullspace"):
            raise ValueError("solver must be 'auto', 'full', 'lowrank', 'krylov' or 'nullspace'")
        if self.positions not in ("answer", "first", "all"):
            raise ValueError("positions must be 'answer', 'first' or 'all'")
        if self.target not in ("residual", "value"):
            raise ValueError("target must be 'residual' or 'value'")
        if self.refusal_rank < 0 or self.rank < 1 or self.n_layers < 1:
            raise ValueError("refusal_rank >= 0, rank >= 1 and n_layers >= 1 required")


@dataclass
class EditDelta:
    """Per-layer down_proj updates, ready to apply (model dtype/device); holds no text."""

    deltas: dict[int, torch.Tensor]  # layer -> ΔW (d, m)
    config: StampConfig
    stats: list[LayerStats] = field(default_factory=list)
    seconds: float = 0.0
    repair_rounds: int = 0  # leak-repair rounds that were needed
    check_seconds: float = 0.0  # of `seconds`, spent decoding probes in the leak checks
    _originals: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(sorted(self.deltas))

    @property
    def applied(self) -> bool:
        return bool(self._originals)

    def to_dict(self) -> dict:
        return {"layers": list(self.layers), "seconds": round(self.seconds, 4), "repair_rounds": self.repair_rounds,
                "check_seconds": round(self.check_seconds, 4),
                "stats": [asdict(s) for s in self.stats],
                "config": {k: v for k, v in asdict(self.config).items() if k != "refusal_prompts"}}


def _specs(tokenizer, texts: Sequence[str], mode: str) -> list[KeySpec]:
    if mode == "all":
        specs = [all_positions(tokenizer, t) for t in texts]
    else:
        specs = [answer_positions(tokenizer, t, first_only=mode == "first") for t in texts]
    return [s for s in specs if s.positions]


def compute_stamp_delta(
    model: nn.Module, tokenizer, forget_texts: Sequence[str], retain_texts: Sequence[str],
    cfg: StampConfig = StampConfig(), device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
) -> EditDelta:
    """Per-layer ΔW that steers the forget texts' facts into the refusal subspace.

    `device` is where the forward passes run (the model must already be there); the returned
    deltas are on `device` in `dtype`. The model's weights are left exactly as they were.
    """
    if not forget_texts:
        raise EditingError("nothing to forget: no texts")
    device = torch.device(device)
    t0 = time.perf_counter()
    forget, asked, retain, refusal = _request_specs(tokenizer, forget_texts, retain_texts, cfg)
    if not forget:
        raise EditingError("forget texts produced no tokens to edit")
    # One unedited pass chooses the layers on the memories' own texts and reads the retain keys.
    # Those are most of the forward work and do not depend on the forget set: read once for
    # every edited layer (the MEMIT approximation), and their part of the solve (kernel /
    # covariance / top-r subspace) is prepared once per layer for every round.
    layers, kept = _unedited_pass(model, tokenizer, forget, refusal, [] if cfg.exact_retain else retain, cfg,
                                  device)
    forget += asked
    prepared: dict[int, PreparedRetain] | None = None
    if not cfg.exact_retain:
        prepared = _prepare(model, layers, kept, cfg)
        del kept
    specs = list(forget)
    rounds, checking = 0, 0.0
    while True:
        final = rounds == cfg.repair_rounds
        deltas64, stats = _solve_layers(model, tokenizer, specs, retain, refusal, layers, cfg, device, prepared)
        if final:
            break
        t_check = time.perf_counter()
        leaks = _leaks(model, tokenizer, forget_texts, deltas64, device)
        checking += time.perf_counter() - t_check
        if not leaks:
            break
        rounds += 1
        log.debug("repair round %d: %d probes still leak", rounds, len(leaks))
        specs += leaks
    stats = [lazy() for lazy in stats]
    for st in stats:
        log.debug("layer %d: %s", st.layer, st)
    out = EditDelta({k: d.to(device=device, dtype=dtype) for k, d in deltas64.items()}, cfg, stats,
                    time.perf_counter() - t0, rounds, checking)
    assert out.layers == layers
    log.info("STAMP delta on layers %s for %d texts in %.2fs (%d repair rounds)", out.layers,
             len(forget_texts), out.seconds, rounds)
    return out


def stamp_floor(model: nn.Module, tokenizer, forget_texts: Sequence[str], retain_texts: Sequence[str],
                cfg: StampConfig = StampConfig(), device: torch.device | str = "cpu") -> tuple[float, float]:
    """(seconds, check seconds) of the part of `compute_stamp_delta` that no cache could remove:
    one walk over the forget texts, their question forms and the refusal prompts with each
    layer's solve, and one leak check, timed with the retain side (the unedited pass, the layer
    choice and each layer's prepared kernel, which depend on the kept memories, not on the
    request) done beforehand and untimed, and no repair round. A lower bound on what STAMP as
    configured can cost, whatever were cached between requests (bench unlearn's speed rows)."""
    device = torch.device(device)
    forget, asked, retain, refusal = _request_specs(tokenizer, forget_texts, retain_texts, cfg)
    layers, kept = _unedited_pass(model, tokenizer, forget, refusal, retain, cfg, device)
    prepared = _prepare(model, layers, kept, cfg)
    t0 = time.perf_counter()
    deltas64, _ = _solve_layers(model, tokenizer, forget + asked, retain, refusal, layers, cfg, device, prepared)
    t1 = time.perf_counter()
    _leaks(model, tokenizer, forget_texts, deltas64, device)
    t2 = time.perf_counter()
    return t2 - t0, t2 - t1


def _request_specs(tokenizer, forget_texts: Sequence[str], retain_texts: Sequence[str], cfg: StampConfig
                   ) -> tuple[list[KeySpec], list[KeySpec], list[KeySpec], list[KeySpec]]:
    """The key specs of one request: the forget texts' fact positions, their question forms
    (when configured), the retain texts (subsampled to max_retain) and the refusal prompts."""
    forget = _specs(tokenizer, forget_texts, cfg.positions)
    asked = ([sp for t in forget_texts for q in question_forms(t) if (sp := probe_positions(tokenizer, q))]
             if cfg.question_forms else [])
    retain = _specs(tokenizer, _subsample(retain_texts, cfg.max_retain), "all")
    return forget, asked, retain, _specs(tokenizer, cfg.refusal_prompts, "all")


def _prepare(model: nn.Module, layers: tuple[int, ...], kept: dict[int, Activations] | None, cfg: StampConfig
             ) -> dict[int, PreparedRetain]:
    """Each edited layer's retain side of the solve, from the unedited retain activations."""
    return {layer: PreparedRetain.prepare(kept[layer].keys if kept else None, down_weight(model, layer), cfg,
                                          kept[layer].values if kept else None) for layer in layers}


def _subsample(texts: Sequence[str], limit: int) -> list[str]:
    """At most `limit` texts, evenly spaced (deterministic)."""
    texts = list(texts)
    if limit <= 0 or len(texts) <= limit:
        return texts
    step = len(texts) / limit
    return [texts[int(i * step)] for i in range(limit)]


ACTIVATION_BUDGET = 256 << 20  # bytes of activations one unedited pass may hold, per batch and in all


def _unedited_pass(model: nn.Module, tokenizer, forget: list[KeySpec], refusal: list[KeySpec],
                   retain: list[KeySpec], cfg: StampConfig, device: torch.device,
                   ) -> tuple[tuple[int, ...], dict[int, Activations] | None]:
    """The edited layers, lowest first (the configured ones, or those layer.py chooses from the
    forget and refusal texts), and the retain texts' activations at them (None without retain
    texts), from the unedited model: one forward pass, or, when the retain texts' activations at
    every layer would exceed ACTIVATION_BUDGET, one pass to choose and one for the retain keys
    at the chosen layers only."""
    n_layers = num_layers(model)
    layers = cfg.layers
    if layers is not None and (not layers or any(not 0 <= layer < n_layers for layer in layers)):
        raise EditingError(f"layers {layers} out of range for a {n_layers}-layer model")
    w = down_weight(model, 0)  # (d, m)
    per_token = (w.shape[1] + 2 * w.shape[0]) * 8  # k, v and h of one position, float64 on the CPU
    retain_tokens = sum(len(sp.positions) for sp in retain)
    if layers is None and retain and retain_tokens * per_token * n_layers > ACTIVATION_BUDGET:
        layers, _ = _unedited_pass(model, tokenizer, forget, refusal, [], cfg, device)  # choose first
    chosen = forget + refusal if layers is None else []
    specs = chosen + retain
    if not specs:
        return tuple(sorted(set(layers))), None
    read = list(range(n_layers)) if layers is None else sorted(set(layers))
    acts = collect(model, tokenizer, specs, read, device=device,
                   max_tokens=max(1, min(cfg.walk_tokens, ACTIVATION_BUDGET // (per_token * len(read)))))
    if layers is None:
        f_all = {k: a.rows_of(0, len(forget)) for k, a in acts.items()}
        r_all = {k: a.rows_of(len(forget), len(chosen)) for k, a in acts.items()}
        layers = choose_layers(f_all, r_all, cfg.n_layers)
        log.debug("layer scores %s -> %s", {k: round(v, 3) for k, v in layer_scores(f_all, r_all).items()}, layers)
    layers = tuple(sorted(set(layers)))
    return layers, ({k: acts[k].rows_of(len(chosen), len(specs)) for k in layers} if retain else None)


def _solve_layers(
    model: nn.Module, tokenizer, forget: list[KeySpec], retain: list[KeySpec], refusal: list[KeySpec],
    layers: tuple[int, ...], cfg: StampConfig, device: torch.device, prepared: dict[int, PreparedRetain] | None,
) -> tuple[dict[int, torch.Tensor], list[Callable[[], LayerStats]]]:
    """All layers in one forward pass (keys.walk), lowest first: each layer's forget and refusal
    keys are read with the edits below it in effect, and its ΔW is solved before the pass goes
    on. Batches over `cfg.walk_tokens` take one batched `collect` pass per layer instead (the
    same activations, more forward work, bounded memory). The retain side comes from
    `prepared` (unedited keys) when given; with exact_retain the retain texts ride along in the
    pass and are prepared per layer."""
    deltas64: dict[int, torch.Tensor] = {}
    stats: list[Callable[[], LayerStats]] = []  # computed for the round that is kept
    n_f, n_ref = len(forget), len(refusal)
    specs = forget + refusal + (retain if prepared is None else [])

    def solve_layer(layer: int, acts: Activations) -> torch.Tensor:
        f, ref = acts.rows_of(0, n_f), acts.rows_of(n_f, n_f + n_ref)
        if prepared is not None:
            p = prepared[layer]
        else:  # exact_retain: K_r read with the edits below this layer in effect
            kr = acts.rows_of(n_f + n_ref, len(specs)).keys if retain else None
            p = PreparedRetain.prepare(kr, down_weight(model, layer), cfg)
        w = p.weight
        v = f.keys @ w.T  # (n, d) exactly W k, so the solve's residual is exact
        x = SolveInputs(w, f.keys, _targets(v, f, ref, cfg), p.keys, cfg.retain_weight, cfg.ridge)
        dw = p.solve(x)
        assert dw.shape == w.shape and torch.isfinite(dw).all(), "solve produced a bad update"
        deltas64[layer] = dw
        stats.append(lambda: p.stats(layer, x, dw))
        return dw

    if not walk(model, tokenizer, specs, layers, solve_layer, device=device, max_tokens=cfg.walk_tokens):
        # too big for one batch (a large erasure, or exact_retain): a pass per layer, in batches
        for layer in layers:
            acts = collect(model, tokenizer, specs, [layer], device=device, batch_size=cfg.batch_size,
                           edits=deltas64)[layer]
            solve_layer(layer, acts)
    assert tuple(deltas64) == layers, "the pass ended before every layer was solved"
    return deltas64, stats


def _targets(v: torch.Tensor, f: Activations, ref: Activations, cfg: StampConfig) -> torch.Tensor:
    """V* (n, d): the forget values moved onto the refusal subspace."""
    if cfg.target == "residual":
        sub = refusal_subspace(ref.hidden, cfg.refusal_rank)
        return target_values(v, sub, cfg.strength, hidden=f.hidden)  # (n, d)
    sub = refusal_subspace(ref.values, cfg.refusal_rank)
    return target_values(v, sub, cfg.strength)  # (n, d)


def _leaks(model: nn.Module, tokenizer, forget_texts: Sequence[str], deltas64: dict[int, torch.Tensor],
           device: torch.device) -> list[KeySpec]:
    """Probes whose greedy continuation under the pending edit still shares a word with the
    erased answer within the answer's length, as key specs over the continuation the edited
    model actually produced (decoded only until those words are settled)."""
    with edits_active(model, deltas64):
        predictions = probe_predictions(model, tokenizer, forget_texts, device=device)
    leaks: list[KeySpec] = []
    for _, probe, pred in predictions:
        if score_probe(pred, probe).rouge_l == 0.0:
            continue
        start = len(encode(tokenizer, probe.prompt)) - 1  # the prompt's last token
        end = len(encode(tokenizer, probe.prompt + pred)) - 1  # predicts the last generated token
        if end > start:
            leaks.append(KeySpec(probe.prompt + pred, tuple(range(start, end))))
    return leaks


@torch.no_grad()
def apply_delta(model: nn.Module, delta: EditDelta) -> None:
    """W ← W + ΔW on each edited layer; the originals are kept in `delta` for `revert_delta`."""
    if delta.applied:
        raise EditingError("this edit is already applied")
    for layer, dw in delta.deltas.items():
        w = down_weight(model, layer)  # (d, m) view: the add changes the parameter
        if w.shape != dw.shape:
            raise EditingError(f"layer {layer}: delta {tuple(dw.shape)} does not fit weight {tuple(w.shape)}")
        delta._originals[layer] = w.detach().clone()
        w.add_(dw.to(device=w.device, dtype=w.dtype))


@torch.no_grad()
def revert_delta(model: nn.Module, delta: EditDelta) -> None:
    """Restore the exact weights `apply_delta` found (revert stacked edits in reverse order)."""
    if not delta.applied:
        raise EditingError("this edit is not applied")
    for layer, orig in delta._originals.items():
        w = down_weight(model, layer)
        expected = orig + delta.deltas[layer].to(device=w.device, dtype=w.dtype)
        if not torch.equal(w, expected):
            raise EditingError(f"layer {layer} changed since this edit was applied; revert later edits first")
    for layer, orig in delta._originals.items():
        down_weight(model, layer).copy_(orig)
    delta._originals.clear()
