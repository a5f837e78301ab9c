"""STAMP: Steering Through Activation Manipulation with PseudoInverse (RePAIR, 2026).

A training-free, closed-form erasure. For each edited layer l (lowest first):

1. keys    K  (n, m): down_proj inputs at the forget texts' fact positions (keys.py), read with
                      the edits of lower layers already active: one forward pass solves every
                      edited layer in turn (keys.walk);
           K_r      : down_proj inputs at every position of the retain texts;
2. values  V* (n, d): the forget values W K moved onto the refusal subspace, the affine span of
                      the model's own down_proj outputs on refusal prompts (values.py);
3. solve   ΔW (d, m): least squares with retain-covariance regularisation in float64 (solve.py;
                      `_Retain` here: full, exact, in dual form O((n+n_r)²·m) when n_r ≤ m, else
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

import torch
from torch import nn

from ..errors import EditingError
from .keys import (Activations, KeySpec, all_positions, answer_positions, collect, down_proj, edits_active,
                   num_layers, probe_positions, walk)
from .layer import choose_layers, layer_scores
from .prompts import REFUSAL_PROMPTS, question_forms
from .solve import SolveInputs, Solver, _rho, retain_subspace, solve
from .tokens import encode
from .values import refusal_subspace, target_values
from .verify import probe_predictions, score_probe

__all__ = ["StampConfig", "LayerStats", "EditDelta", "compute_stamp_delta", "apply_delta", "revert_delta"]

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
    solver: Solver = "lowrank"  # "full" (exact, O(m³)), "lowrank" (top-r retain subspace), "krylov", "nullspace"
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
        if self.positions not in ("answer", "first", "all"):
            raise ValueError("positions must be 'answer', 'first' or 'all'")
        if self.target not in ("residual", "value"):
            raise ValueError("target must be 'residual' or 'value'")
        if self.refusal_rank < 0 or self.rank < 1 or self.n_layers < 1:
            raise ValueError("refusal_rank >= 0, rank >= 1 and n_layers >= 1 required")


@dataclass(frozen=True)
class LayerStats:
    layer: int
    n_forget_keys: int
    n_retain_keys: int
    fit_error: float  # ‖K(W+ΔW)ᵀ − V*‖ / ‖V* − KWᵀ‖: 0 = targets reached exactly
    retain_drift: float  # ‖K_r ΔWᵀ‖ / ‖K_r Wᵀ‖: how much retain outputs moved
    delta_norm: float  # ‖ΔW‖_F / ‖W‖_F


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
    forget = _specs(tokenizer, forget_texts, cfg.positions)
    asked = ([sp for t in forget_texts for q in question_forms(t) if (sp := probe_positions(tokenizer, q))]
             if cfg.question_forms else [])
    retain = _specs(tokenizer, _subsample(retain_texts, cfg.max_retain), "all")
    refusal = _specs(tokenizer, cfg.refusal_prompts, "all")
    if not forget:
        raise EditingError("forget texts produced no tokens to edit")
    layers = _layers(model, tokenizer, forget, refusal, cfg, device)  # chosen on the memories' own texts
    forget += asked
    # Retain keys are most of the forward work and do not depend on the forget set: read once for
    # every edited layer in one unedited pass (the MEMIT approximation), and their part of the
    # solve (kernel / covariance / top-r subspace) is prepared once per layer for every round.
    prepared: dict[int, _Retain] | None = None
    if not cfg.exact_retain:
        keys = (collect(model, tokenizer, retain, layers, device=device, batch_size=cfg.batch_size) if retain
                else {})
        prepared = {layer: _Retain.prepare(keys[layer].keys if retain else None, down_proj(model, layer), cfg)
                    for layer in layers}
        del keys
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


def _subsample(texts: Sequence[str], limit: int) -> list[str]:
    """At most `limit` texts, evenly spaced (deterministic)."""
    texts = list(texts)
    if limit <= 0 or len(texts) <= limit:
        return texts
    step = len(texts) / limit
    return [texts[int(i * step)] for i in range(limit)]


def _layers(model: nn.Module, tokenizer, forget: list[KeySpec], refusal: list[KeySpec], cfg: StampConfig,
            device: torch.device) -> tuple[int, ...]:
    """The edited layers, lowest first: the configured ones, or those chosen by layer.py from one
    unedited pass over the forget and refusal texts."""
    n_layers = num_layers(model)
    layers = cfg.layers
    if layers is None:
        both = collect(model, tokenizer, forget + refusal, list(range(n_layers)), device=device,
                       batch_size=cfg.batch_size)
        f_all = {k: a.rows_of(0, len(forget)) for k, a in both.items()}
        r_all = {k: a.rows_of(len(forget), len(forget) + len(refusal)) for k, a in both.items()}
        layers = choose_layers(f_all, r_all, cfg.n_layers)
        log.debug("layer scores %s -> %s", {k: round(v, 3) for k, v in layer_scores(f_all, r_all).items()}, layers)
    if not layers or any(not 0 <= layer < n_layers for layer in layers):
        raise EditingError(f"layers {layers} out of range for a {n_layers}-layer model")
    return tuple(sorted(set(layers)))


def _solve_layers(
    model: nn.Module, tokenizer, forget: list[KeySpec], retain: list[KeySpec], refusal: list[KeySpec],
    layers: tuple[int, ...], cfg: StampConfig, device: torch.device, prepared: dict[int, _Retain] | None,
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
            p = _Retain.prepare(kr, down_proj(model, layer), cfg)
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


@dataclass
class _Retain:
    """One layer's retain side of the solve, computed once and reused in every repair round.

    `solve` gives the same ΔW as `solve.solve` with these retain keys: "lowrank" bit for bit (the
    same float64 operations, the retain subspace is not recomputed), "full" to rounding; the
    other solvers just call `solve.solve`. "full" is solved in whichever form is smaller:

    - primal (n_r > m): (KᵀK + λK_rᵀK_r + ρI) ΔWᵀ = KᵀR, an m×m Cholesky; λK_rᵀK_r prepared;
    - dual (n_r ≤ m): with B = [K; √λ K_r] (N = n + n_r rows), the push-through identity
      (ρI + BᵀB)⁻¹Bᵀ = Bᵀ(ρI + BBᵀ)⁻¹ gives ΔWᵀ = Bᵀ (ρI + BBᵀ)⁻¹ [R; 0], an N×N Cholesky;
      the retain block λK_rK_rᵀ of BBᵀ is prepared. O(N²m + N³) instead of O(m³ + m²d).
      Only n columns of the inverse are needed, since [R; 0] is zero below the forget rows.
    """

    weight: torch.Tensor  # (d, m) W, float64
    keys: torch.Tensor  # (n_r, m) K_r
    cfg: StampConfig
    gram: torch.Tensor | None = None  # full, primal: λ K_rᵀK_r (m, m)
    kernel: torch.Tensor | None = None  # full, dual: λ K_r K_rᵀ (n_r, n_r)
    subspace: tuple[torch.Tensor, torch.Tensor, float] | None = None  # lowrank: V (m, r), s² (r,), Σ K_r²
    col_energy: torch.Tensor | None = None  # λ Σ_rows K_r² (m,), for ρ
    retain_out_norm: float = 0.0  # ‖K_r Wᵀ‖

    @classmethod
    def prepare(cls, kr: torch.Tensor | None, mod: nn.Linear, cfg: StampConfig) -> "_Retain":
        w = mod.weight.detach().to("cpu", torch.float64)  # (d, m)
        if kr is None:
            kr = torch.zeros(0, w.shape[1], dtype=torch.float64)  # (0, m)
        out = cls(w, kr, cfg)
        lam = cfg.retain_weight
        out.col_energy = lam * (kr**2).sum(0)
        if cfg.solver == "full":
            if kr.shape[0] <= kr.shape[1]:
                out.kernel = lam * (kr @ kr.T)  # (n_r, n_r)
            else:
                out.gram = lam * (kr.T @ kr)  # (m, m)
        elif cfg.solver == "lowrank":
            v, s2 = retain_subspace(kr, cfg.rank)
            out.subspace = (v, s2, float((kr**2).sum()))
        out.retain_out_norm = float((kr.float() @ w.float().T).norm()) if kr.shape[0] else 0.0  # for stats
        return out

    def solve(self, x: SolveInputs) -> torch.Tensor:
        k = x.keys
        if self.kernel is not None:  # solve.solve_full, dual form
            n, root = k.shape[0], x.retain_weight**0.5
            kkr = root * (k @ self.keys.T)  # (n, n_r)
            a = torch.cat([torch.cat([k @ k.T, kkr], 1), torch.cat([kkr.T, self.kernel], 1)])  # (N, N) = BBᵀ
            a.diagonal().add_(_rho(x, (k**2).sum(0) + self.col_energy))
            # only the first n columns of (ρI + BBᵀ)⁻¹ meet [R; 0]: solve for those, then
            # ΔWᵀ = (Bᵀ X) R, which costs O(N²n + Nmn + mnd) instead of O(N²d + Nmd)
            x_cols = _spd_solve(a, torch.eye(a.shape[0], n, dtype=k.dtype))  # (N, n)
            bx = k.T @ x_cols[:n] + root * (self.keys.T @ x_cols[n:])  # (m, n)
            return (bx @ x.residual).T.contiguous()  # (d, m)
        if self.gram is not None:  # solve.solve_full, primal form
            a = k.T @ k + self.gram  # (m, m)
            a.diagonal().add_(_rho(x, a.diagonal()))
            if k.shape[0] < x.residual.shape[1]:  # fewer forget keys than d: A⁻¹Kᵀ first, then · R
                return (_spd_solve(a, k.T.contiguous()) @ x.residual).T.contiguous()  # (d, m)
            return _spd_solve(a, k.T @ x.residual).T.contiguous()  # (d, m)
        if self.subspace is not None:  # solve.solve_lowrank
            lam, m = x.retain_weight, k.shape[1]
            rho = _rho(x, (k**2).sum(0) + self.col_energy)
            v, s2, energy = self.subspace
            r = v.shape[1]
            tail = max(0.0, energy - float(s2.sum())) / max(1, m - r)  # τ
            a_in = 1.0 / (lam * s2 + rho)  # (r,)
            a_out = 1.0 / (lam * tail + rho)
            kt = k.T  # (m, n)
            vk = v.T @ kt  # (r, n)
            cinv_kt = v @ (a_in[:, None] * vk) + a_out * (kt - v @ vk)  # (m, n) = C⁻¹Kᵀ
            g = torch.eye(k.shape[0], dtype=k.dtype) + k @ cinv_kt  # (n, n)
            return (cinv_kt @ torch.linalg.solve(g, x.residual)).T.contiguous()  # (d, m)
        cfg = self.cfg
        return solve(x, cfg.solver, rank=cfg.rank, krylov_depth=cfg.krylov_depth,
                     nullspace_threshold=cfg.nullspace_threshold)

    def stats(self, layer: int, x: SolveInputs, dw: torch.Tensor) -> LayerStats:
        r = x.residual  # (n, d)
        fit = (x.keys @ dw.T - r).norm() / r.norm().clamp_min(1e-12)
        # a diagnostic: float32 is plenty, and n_r·m·d multiply-adds in float64 are not free
        drift = (float((self.keys.float() @ dw.float().T).norm()) / max(self.retain_out_norm, 1e-12)
                 if self.keys.shape[0] else 0.0)
        return LayerStats(layer, int(x.keys.shape[0]), int(self.keys.shape[0]), float(fit), drift,
                          float(dw.norm() / x.weight.norm().clamp_min(1e-12)))


def _spd_solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a⁻¹b for a symmetric positive definite `a` (ρ > 0): Cholesky, LU if that fails."""
    chol, info = torch.linalg.cholesky_ex(a)
    if int(info) == 0:
        return torch.cholesky_solve(b, chol)
    return torch.linalg.solve(a, b)


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
        w = down_proj(model, layer).weight
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
        w = down_proj(model, layer).weight
        expected = orig + delta.deltas[layer].to(device=w.device, dtype=w.dtype)
        if not torch.equal(w, expected):
            raise EditingError(f"layer {layer} changed since this edit was applied; revert later edits first")
    for layer, orig in delta._originals.items():
        down_proj(model, layer).weight.copy_(orig)
    delta._originals.clear()
