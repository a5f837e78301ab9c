"""Where the MLP out projection sits in each supported architecture: one small table.

STAMP edits the MLP's out projection W (d, m): its input is the key k (size m, the MLP's
intermediate activation), its output the value v = W k (+ bias). The module differs by family:

    llama / qwen2 / mistral   model.layers.{i}.mlp.down_proj   nn.Linear, weight (d, m)
    gpt2                      transformer.h.{i}.mlp.c_proj     Conv1D, weight (m, d): transposed
    phi                       model.layers.{i}.mlp.fc2         nn.Linear, weight (d, m)

and so does the residual stream before the MLP (h_mid, which keys.walk needs): the input of a
post-attention norm in sequential pre-norm blocks (`post_attention_layernorm`, GPT-2's `ln_2`),
or, in Phi's parallel blocks (h = x + attn(ln(x)) + mlp(ln(x))), the block input plus the
attention output. `out_weight` always returns the (d, m) view, so the solver, `apply_delta` and
`revert_delta` need not know which layout they edit (an in-place add on the transposed view
changes the Conv1D parameter itself). Unknown model types fall back to the Llama layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import EditingError

__all__ = ["MlpLayout", "LAYOUTS", "layout_of", "out_proj", "out_weight", "block", "lora_targets"]


@dataclass(frozen=True)
class MlpLayout:
    blocks: str  # name of the decoder block list (its items are "<blocks>.<i>")
    out_proj: str  # the MLP out projection, relative to a block
    transposed: bool  # weight stored (m, d), as transformers' Conv1D does
    mid_norm: str | None  # a module whose input is h_mid (sequential pre-norm blocks)
    parallel: tuple[str, str] | None = None  # (input norm, attention): h_mid = block input + attention output
    lora_targets: tuple[str, ...] = ()  # module names LoRA adapts in this family


_LLAMA = MlpLayout("layers", "mlp.down_proj", False, "post_attention_layernorm",
                   lora_targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"))
LAYOUTS: dict[str, MlpLayout] = {
    "llama": _LLAMA,
    "qwen2": _LLAMA,
    "mistral": _LLAMA,
    "gpt2": MlpLayout("h", "mlp.c_proj", True, "ln_2", lora_targets=("c_attn", "c_proj", "c_fc")),
    "phi": MlpLayout("layers", "mlp.fc2", False, None, parallel=("input_layernorm", "self_attn"),
                     lora_targets=("q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2")),
}


def layout_of(model: nn.Module) -> MlpLayout:
    kind = getattr(getattr(model, "config", None), "model_type", None)
    return LAYOUTS.get(str(kind), _LLAMA)


def lora_targets(model: nn.Module) -> tuple[str, ...]:
    return layout_of(model).lora_targets


def block(model: nn.Module, layer: int) -> nn.Module:
    """Decoder block `layer` (found by name suffix, so peft-wrapped models work too)."""
    lay = layout_of(model)
    suffix = f"{lay.blocks}.{layer}"
    for name, mod in model.named_modules():
        if (name == suffix or name.endswith("." + suffix)) and _get(mod, lay.out_proj) is not None:
            return mod
    raise EditingError(f"model has no decoder block {suffix} holding {lay.out_proj}")


def out_proj(model: nn.Module, layer: int) -> nn.Module:
    """The MLP out projection of decoder block `layer` (nn.Linear, or Conv1D for GPT-2)."""
    mod = _get(block(model, layer), layout_of(model).out_proj)
    assert mod is not None and isinstance(getattr(mod, "weight", None), torch.Tensor)
    return mod


def out_weight(model: nn.Module, mod: nn.Module) -> torch.Tensor:
    """W as (d, m) (a view of the parameter; transposed for Conv1D)."""
    w = mod.weight
    return w.T if layout_of(model).transposed else w


def _get(mod: nn.Module, path: str) -> nn.Module | None:
    for part in path.split("."):
        mod = getattr(mod, part, None)
        if not isinstance(mod, nn.Module):
            return None
    return mod
