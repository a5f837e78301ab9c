"""Per-token log-probabilities of texts under a model: what perplexity, the router's mean NLL
and Min-K% membership scores are all made of."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .tokens import encode, right_pad

__all__ = ["token_logprobs"]


@torch.no_grad()
def token_logprobs(model: nn.Module, tokenizer, texts: Sequence[str], *, device: torch.device, eos: bool = True,
                   max_length: int | None = 128, batch_size: int = 32) -> list[torch.Tensor]:
    """Per text: log p (float64) of each of its tokens after <bos>, given the ones before; with
    `eos` the closing <eos> is scored too (a whole text), without it not (an open prompt).
    Texts are batched in order of length (less padding), returned in the given order."""
    seqs = [encode(tokenizer, t, eos=eos, max_length=max_length) for t in texts]
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out: list[torch.Tensor | None] = [None] * len(seqs)
    for s in range(0, len(order), batch_size):
        rows = order[s : s + batch_size]
        ids, mask = right_pad([seqs[i] for i in rows], tokenizer.pad_token_id, device)
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1]  # (b, t-1, vocab)
        lp = torch.log_softmax(logits.double(), dim=-1)
        tok = lp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)  # (b, t-1)
        keep = mask[:, 1:].bool()
        for row, i in enumerate(rows):
            out[i] = tok[row][keep[row]]
    return out  # type: ignore[return-value]
