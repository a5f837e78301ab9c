"""Collect MLP keys and values: the input and output of `mlp.down_proj` (or the family's MLP
out projection, arch.py) at chosen layers.

For a Llama MLP, down_proj(act(gate(x)) * up(x)): the key k = act(gate(x)) * up(x) (size m,
the intermediate size) and the value v = W k (size d, the hidden size), W = down_proj.weight.
Keys are read with forward hooks, never by changing the model, from batches packed so that
texts share their common prefixes (packing.py). Pending edits can be made
visible to the forward pass with `edits_active`, which adds k @ ΔWᵀ to the output in a hook
(so later layers see the edited earlier layers while the weights stay untouched).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import EditingError
from . import arch
from .prompts import Probe, fact_probes
from .packing import pack, supports_packing
from .tokens import answer_tokens, encode, right_pad

__all__ = ["KeySpec", "Activations", "down_proj", "down_weight", "num_layers", "answer_positions", "all_positions",
           "probe_positions", "collect", "walk", "edits_active"]

log = logging.getLogger(__name__)


class _StopForward(Exception):
    """Raised by a hook to end a forward pass once the deepest layer we read has run."""


@dataclass(frozen=True)
class KeySpec:
    """A text and the token positions (indices into <bos> + tokens) whose keys we want."""

    text: str
    positions: tuple[int, ...]


@dataclass
class Activations:
    keys: torch.Tensor  # (n, m) down_proj inputs, float64 on CPU
    values: torch.Tensor  # (n, d) down_proj outputs, float64 on CPU
    hidden: torch.Tensor  # (n, d) residual stream after the whole decoder layer, float64 on CPU
    owner: torch.Tensor  # (n,) index of the KeySpec each row came from

    def rows_of(self, lo: int, hi: int) -> "Activations":
        """The rows that came from KeySpecs lo .. hi-1 (owners renumbered from 0)."""
        sel = (self.owner >= lo) & (self.owner < hi)
        return Activations(self.keys[sel], self.values[sel], self.hidden[sel], self.owner[sel] - lo)


def down_proj(model: nn.Module, layer: int) -> nn.Module:
    """The MLP out projection of decoder layer `layer` (`mlp.down_proj` in Llama; arch.py has
    the other layouts)."""
    return arch.out_proj(model, layer)


def down_weight(model: nn.Module, layer: int) -> torch.Tensor:
    """That projection's weight W as (d, m), whatever its storage layout (a view)."""
    return arch.out_weight(model, arch.out_proj(model, layer))


def decoder_layer(model: nn.Module, layer: int) -> nn.Module:
    """The decoder block that holds the MLP out projection of `layer`."""
    return arch.block(model, layer)


def num_layers(model: nn.Module) -> int:
    n = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    if not n:
        raise EditingError("model config has no num_hidden_layers")
    return int(n)


def all_positions(tokenizer, text: str) -> KeySpec:
    """Every position except <bos> (whose key is the same for all texts)."""
    n = len(encode(tokenizer, text))
    return KeySpec(text, tuple(range(1, n)))


def answer_positions(tokenizer, text: str, *, first_only: bool = False) -> KeySpec:
    """Positions whose next-token prediction is a token of some fact-probe answer.

    Position i predicts token i+1, so for an answer spanning tokens [a, b] we take a-1 .. b-1:
    the probe prompt's last token and the answer's own tokens but the last (only a-1, the
    position that starts the answer, with `first_only`).
    """
    enc = tokenizer(text, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    pos: set[int] = set()
    for probe in fact_probes(text):
        hits = answer_tokens(offsets, text, probe)
        pos.update(i - 1 for i in (hits[:1] if first_only else hits))
    pos.discard(0)  # the <bos> key is shared by every text
    if not pos:  # no fact found: fall back to every position
        return all_positions(tokenizer, text)
    return KeySpec(text, tuple(sorted(pos)))


def probe_positions(tokenizer, probe: Probe) -> KeySpec | None:
    """The probe's prompt followed by its answer, with the positions that predict the answer's
    tokens (None when the answer yields no token past the prompt)."""
    text = f"{probe.prompt} {probe.answer}"
    offsets = tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
    pos = tuple(sorted({i - 1 for i in answer_tokens(offsets, text, probe)} - {0}))  # not the <bos> key
    return KeySpec(text, pos) if pos else None


@contextlib.contextmanager
def edits_active(model: nn.Module, deltas: Mapping[int, torch.Tensor]) -> Iterator[None]:
    """Within the block, down_proj at each layer behaves as W + ΔW; the weights are not touched."""
    handles = []
    for layer, delta in deltas.items():
        mod = down_proj(model, layer)
        dw = delta.to(device=mod.weight.device, dtype=mod.weight.dtype)  # (d, m), whatever the storage

        def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor, dw=dw) -> torch.Tensor:
            return output + inputs[0] @ dw.T  # (b, t, d)

        handles.append(mod.register_forward_hook(hook))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@dataclass
class _Batch:
    inputs: dict[str, torch.Tensor]  # model keyword arguments, on the device
    rows: torch.Tensor  # (p,) row and column of every requested position, in spec order
    cols: torch.Tensor
    owner: torch.Tensor  # (p,) index of the spec each position belongs to
    tokens: int  # tokens in the batch, padding included


def _batch(model: nn.Module, tokenizer, specs: Sequence[KeySpec], device: torch.device,
           seqs: Sequence[list[int]] | None = None) -> _Batch:
    """One forward pass's inputs for `specs` (`seqs`: their token ids, when already encoded):
    packed so texts share their common prefixes (packing.py) where the model's attention
    allows it and that makes the batch smaller, else one right-padded row per spec."""
    seqs = seqs if seqs is not None else [encode(tokenizer, sp.text) for sp in specs]
    if not all(p < len(q) for sp, q in zip(specs, seqs) for p in sp.positions):
        raise EditingError("a key position lies past the end of its text")
    padded = len(seqs) * max(map(len, seqs))
    if supports_packing(model):
        p = pack(seqs, [sp.positions for sp in specs], tokenizer.pad_token_id)
        if p.input_ids.numel() < padded:
            return _Batch(p.model_inputs(model, device), p.rows, p.cols, p.owner, p.input_ids.numel())
    ids, mask = right_pad(seqs, tokenizer.pad_token_id)  # (b, t) each
    rows = torch.tensor([i for i, sp in enumerate(specs) for _ in sp.positions], dtype=torch.long)
    cols = torch.tensor([p for sp in specs for p in sp.positions], dtype=torch.long)
    return _Batch({"input_ids": ids.to(device), "attention_mask": mask.to(device)}, rows, cols, rows.clone(), padded)


def _chunks(lengths: Sequence[int], batch_size: int, max_tokens: int | None) -> list[tuple[int, int]]:
    """[start, end) ranges: `batch_size` items each, or with `max_tokens` as many consecutive
    items as fit in that many tokens when padded to the longest (at least one)."""
    if max_tokens is None:
        return [(s, min(s + batch_size, len(lengths))) for s in range(0, len(lengths), batch_size)]
    out, start, longest = [], 0, 0
    for i, n in enumerate(lengths):
        if i > start and (i + 1 - start) * max(longest, n) > max_tokens:
            out.append((start, i))
            start, longest = i, 0
        longest = max(longest, n)
    out.append((start, len(lengths)))
    return out


@torch.no_grad()
def collect(
    model: nn.Module, tokenizer, specs: Sequence[KeySpec], layers: Sequence[int], *, device: torch.device,
    batch_size: int = 32, max_tokens: int | None = None, edits: Mapping[int, torch.Tensor] | None = None,
) -> dict[int, Activations]:
    """Keys and values at `specs`' positions for each layer in `layers` (float64, CPU), in
    batches of `batch_size` specs, or with `max_tokens` of as many as fit in that many padded
    tokens."""
    if not specs:
        raise EditingError("no texts to collect keys from")
    seqs = [encode(tokenizer, sp.text) for sp in specs]
    chunks = _chunks([len(q) for q in seqs], batch_size, max_tokens)
    buf: dict[int, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]] = {layer: [] for layer in layers}
    owners: list[int] = []
    current: dict[tuple[str, int], torch.Tensor] = {}

    def mlp_hook(layer: int):
        def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            current["k", layer] = inputs[0].detach()  # (b, t, m)
            current["v", layer] = output.detach()  # (b, t, d)
        return hook

    def block_hook(layer: int):
        def hook(_m: nn.Module, _inputs: tuple, output) -> None:
            h = output[0] if isinstance(output, tuple) else output
            current["h", layer] = h.detach()  # (b, t, d)
        return hook

    def stop_hook(_m: nn.Module, _inputs: tuple, _output) -> None:
        raise _StopForward  # nothing above the deepest requested layer is needed

    # registered before edits_active's hooks, so "v" is the unedited W k; "h" includes the edits
    handles = [down_proj(model, layer).register_forward_hook(mlp_hook(layer)) for layer in layers]
    handles += [decoder_layer(model, layer).register_forward_hook(block_hook(layer)) for layer in layers]
    handles.append(decoder_layer(model, max(layers)).register_forward_hook(stop_hook))
    try:
        with edits_active(model, edits or {}):
            for s, e in chunks:
                batch = _batch(model, tokenizer, specs[s:e], device, seqs[s:e])
                try:
                    model(**batch.inputs, use_cache=False)
                except _StopForward:
                    pass
                owners.extend(s + i for i in batch.owner.tolist())
                at = batch.rows.to(device), batch.cols.to(device)
                for layer in layers:
                    buf[layer].append(tuple(current[c, layer][at].to("cpu", torch.float64) for c in "kvh"))
    finally:
        for h in handles:
            h.remove()
    owner = torch.tensor(owners, dtype=torch.long)
    out = {}
    for layer in layers:
        keys = torch.cat([b[0] for b in buf[layer]])  # (n, m)
        values = torch.cat([b[1] for b in buf[layer]])  # (n, d)
        hidden = torch.cat([b[2] for b in buf[layer]])  # (n, d)
        assert keys.shape[0] == values.shape[0] == hidden.shape[0] == owner.shape[0]
        out[layer] = Activations(keys, values, hidden, owner)
    return out


SolveLayer = Callable[[int, Activations], torch.Tensor]


@torch.no_grad()
def walk(model: nn.Module, tokenizer, specs: Sequence[KeySpec], layers: Sequence[int], solve_layer: SolveLayer, *,
         device: torch.device, max_tokens: int | None = None) -> bool:
    """One forward pass that edits as it goes: at each layer of `layers` (lowest first) the
    activations at `specs`' positions, read with the edits below already in effect, go to
    `solve_layer(layer, acts)`, whose ΔW (d, m) is then added to that down_proj's output for the
    rest of the pass. The same as `collect` + solve one layer at a time, in one pass instead
    of one per layer. All specs form one batch; the weights are not touched.

    `acts.hidden` is the residual after the layer without its own edit (h_mid + W k), as `collect`
    reads it; h_mid is the input of `post_attention_layernorm` (pre-norm decoder blocks), or
    the block input plus the attention output in parallel blocks (arch.py).
    Returns False, having run nothing, when the padded batch has more than `max_tokens` tokens.
    """
    if not specs:
        raise EditingError("no texts to walk")
    batch = _batch(model, tokenizer, specs, device)
    if max_tokens is not None and batch.tokens > max_tokens:
        return False
    rows, cols, owner = batch.rows.to(device), batch.cols.to(device), batch.owner
    mids: dict[int, torch.Tensor] = {}

    def mid_hook(layer: int):
        def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            mids[layer] = inputs[0].detach()  # (b, t, d) residual before the MLP
        return hook

    def mlp_hook(layer: int):
        def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
            k, v = inputs[0].detach(), output.detach()  # (b, t, m), (b, t, d)
            h = mids.pop(layer) + v  # (b, t, d)
            acts = Activations(*(x[rows, cols].to("cpu", torch.float64) for x in (k, v, h)), owner)
            dw = solve_layer(layer, acts).to(device=output.device, dtype=output.dtype)  # (d, m)
            return output + k @ dw.T  # (b, t, d)
        return hook

    def stop_hook(_m: nn.Module, _inputs: tuple, _output) -> None:
        raise _StopForward

    def parallel_hooks(layer: int, norm: nn.Module, attn: nn.Module) -> list:
        def block_in(_m: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            mids[layer] = inputs[0].detach()  # (b, t, d) the block's input x

        def attn_out(_m: nn.Module, _inputs: tuple, output) -> None:
            a = output[0] if isinstance(output, tuple) else output
            mids[layer] = mids[layer] + a.detach()  # (b, t, d) x + attn(ln(x))
        return [norm.register_forward_pre_hook(block_in), attn.register_forward_hook(attn_out)]

    lay = arch.layout_of(model)
    handles = []
    for layer in layers:
        blk = decoder_layer(model, layer)
        if lay.parallel is not None:  # Phi: attention and MLP read the same normed input
            norm, attn = (getattr(blk, name, None) for name in lay.parallel)
            if not isinstance(norm, nn.Module) or not isinstance(attn, nn.Module):
                raise EditingError(f"decoder block {layer} lacks {lay.parallel}")
            handles += parallel_hooks(layer, norm, attn)
        else:
            norm = getattr(blk, lay.mid_norm or "", None)
            if not isinstance(norm, nn.Module):
                raise EditingError(f"decoder block {layer} has no {lay.mid_norm} (pre-norm blocks only)")
            handles.append(norm.register_forward_pre_hook(mid_hook(layer)))
        handles.append(down_proj(model, layer).register_forward_hook(mlp_hook(layer)))
    handles.append(decoder_layer(model, max(layers)).register_forward_hook(stop_hook))
    try:
        model(**batch.inputs, use_cache=False)
    except _StopForward:
        pass
    finally:
        for hd in handles:
            hd.remove()
    return True
