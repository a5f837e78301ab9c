"""Load and save local causal LMs: paths only, never a hub download."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from ..errors import EditingError

__all__ = ["load_model", "save_model"]

log = logging.getLogger(__name__)


def _quiet_transformers() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def load_model(model_dir: Path, *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
    """(model, tokenizer) from a local directory, in eval mode on `device`/`dtype`."""
    _quiet_transformers()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise EditingError(f"no model checkpoint at {path} (config.json missing)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype=dtype)
    except Exception as exc:  # noqa: BLE001 - any loader failure is an editing failure for the caller
        raise EditingError(f"cannot load model from {path}: {exc}") from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(torch.device(device))
    model.eval()
    return model, tokenizer


def save_model(model: nn.Module, tokenizer, out_dir: Path) -> Path:
    _quiet_transformers()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    log.info("saved model to %s", out)
    return out
