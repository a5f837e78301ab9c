"""Tokenising helpers shared by adaptation, key collection and verification."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .prompts import Probe

__all__ = ["LMBatch", "batch_for_lm", "encode", "left_pad", "right_pad", "answer_tokens"]


@dataclass
class LMBatch:
    input_ids: torch.Tensor  # (b, t) right-padded with pad_token_id
    attention_mask: torch.Tensor  # (b, t) 1 on real tokens
    labels: torch.Tensor  # (b, t) -100 on padding


def encode(tokenizer, text: str, *, eos: bool = False, max_length: int | None = None) -> list[int]:
    """<bos> + text tokens (+ <eos>); the tokenizer's post-processor adds <bos>."""
    ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])
    if not ids or ids[0] != tokenizer.bos_token_id:
        ids = [tokenizer.bos_token_id, *ids]
    if eos:
        ids.append(tokenizer.eos_token_id)
    if max_length is not None:
        ids = ids[:max_length]
    return ids


def batch_for_lm(tokenizer, texts: Sequence[str], device: torch.device, max_length: int = 128) -> LMBatch:
    seqs = [encode(tokenizer, t, eos=True, max_length=max_length) for t in texts]
    ids, mask = right_pad(seqs, tokenizer.pad_token_id, device)
    labels = ids.masked_fill(mask == 0, -100)  # (b, t)
    return LMBatch(ids, mask, labels)


def right_pad(seqs: Sequence[Sequence[int]], pad: int, device: torch.device | str = "cpu",
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token lists for a forward pass: (input_ids, attention_mask), both (b, t)."""
    t = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), t), pad, dtype=torch.long)  # (b, t)
    mask = torch.zeros((len(seqs), t), dtype=torch.long)  # (b, t)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids.to(device), mask.to(device)


def left_pad(seqs: Sequence[Sequence[int]], pad: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad token lists for generation: (input_ids, attention_mask), both (b, t)."""
    t = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), t), pad, dtype=torch.long)  # (b, t)
    mask = torch.zeros((len(seqs), t), dtype=torch.long)  # (b, t)
    for i, s in enumerate(seqs):
        ids[i, t - len(s) :] = torch.tensor(list(s), dtype=torch.long)
        mask[i, t - len(s) :] = 1
    return ids.to(device), mask.to(device)


def answer_tokens(offsets: Sequence[tuple[int, int]], text: str, probe: Probe) -> list[int]:
    """Indices (past <bos>) of the tokens of `text` that overlap `probe`'s answer, which follows
    the prompt after any whitespace; `offsets` is the tokenizer's offset mapping of `text`."""
    rest = text[len(probe.prompt):]
    a0 = len(probe.prompt) + len(rest) - len(rest.lstrip())
    a1 = a0 + len(probe.answer)
    return [i for i, (c0, c1) in enumerate(offsets) if i > 0 and c1 > a0 and c0 < a1]
