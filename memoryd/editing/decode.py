"""Greedy continuations of fact probes, sharing each memory's forward pass.

Every fact probe of a memory is a prefix of it (prompts.py), so one forward pass over the whole
memory already holds what a probe's prefill would compute: its KV cache is the memory's cache up
to the prompt's length, and its first greedy token is the argmax at the prompt's last token.
Each probe row then decodes on its own copy of the memory's cache, with the positions after its
prompt masked out. Compared with left-padded generation per probe this reads each memory once
instead of once per probe.

A row stops at <eos>, at its token budget, or, with `settle_words`, once more words than that
have begun: the first n words cannot change any more, and they are all that scoring reads.
Probes whose prompt does not tokenise to a prefix of the memory fall back to `greedy_continue`,
plain left-padded generation of each prompt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import nn

from .prompts import Probe, words
from .tokens import encode, left_pad, right_pad

__all__ = ["greedy_continue", "probe_continuations"]

log = logging.getLogger(__name__)


@torch.no_grad()
def greedy_continue(
    model: nn.Module, tokenizer, prompts: Sequence[str], max_new_tokens: int | Sequence[int],
    device: torch.device, batch_size: int = 64,
) -> list[str]:
    """Greedy continuations (decoded, special tokens dropped) of each prompt."""
    limits = [max_new_tokens] * len(prompts) if isinstance(max_new_tokens, int) else list(max_new_tokens)
    assert len(limits) == len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: limits[i])  # similar budgets share a batch
    out: list[str] = [""] * len(prompts)
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        ids, mask = left_pad([encode(tokenizer, prompts[i]) for i in idx], tokenizer.pad_token_id, device)
        gen = model.generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=max(limits[i] for i in idx), do_sample=False,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        )  # (b, t + new)
        for row, i in enumerate(idx):
            new = gen[row, ids.shape[1] : ids.shape[1] + limits[i]].tolist()
            out[i] = tokenizer.decode(new, skip_special_tokens=True)
    return out


@torch.no_grad()
def probe_continuations(
    model: nn.Module, tokenizer, texts: Sequence[str], probes: Sequence[Sequence[Probe]], budgets: Sequence[int],
    device: torch.device, *, settle_words: Sequence[int] | None = None, texts_per_batch: int = 16,
) -> list[str]:
    """Greedy continuation of every probe (flattened in text order), decoded without special tokens.

    `budgets[j]`: most new tokens for flat probe j; `settle_words[j]`: stop once more than that
    many words have begun (None: decode the whole budget, as `greedy_continue` does).
    """
    flat = [(t, p) for t, ps in enumerate(probes) for p in ps]
    assert len(budgets) == len(flat) and (settle_words is None or len(settle_words) == len(flat))
    out = [""] * len(flat)
    text_ids = [encode(tokenizer, t) for t in texts]
    fallback: list[int] = []
    rows_of: dict[int, list[tuple[int, int]]] = {}  # text -> [(flat index, prompt length)]
    for j, (t, p) in enumerate(flat):
        pids = encode(tokenizer, p.prompt)
        if len(pids) < len(text_ids[t]) and text_ids[t][: len(pids)] == pids:
            rows_of.setdefault(t, []).append((j, len(pids)))
        else:
            fallback.append(j)
    with_rows = sorted(rows_of)
    for s in range(0, len(with_rows), texts_per_batch):
        chunk = with_rows[s : s + texts_per_batch]
        rows = [(k, j, n) for k, t in enumerate(chunk) for j, n in rows_of[t]]
        gen = _decode(model, tokenizer, [text_ids[t] for t in chunk], rows, budgets, settle_words, device)
        if gen is None:
            log.info("%s: the model's KV cache cannot be shared between probes; generating each",
                     type(model).__name__)
            fallback += [j for _, j, _ in rows]
            continue
        for (_, j, _), toks in zip(rows, gen):
            out[j] = tokenizer.decode(toks, skip_special_tokens=True)
    if fallback:
        preds = greedy_continue(model, tokenizer, [flat[j][1].prompt for j in fallback],
                                [budgets[j] for j in fallback], device)
        for j, pred in zip(fallback, preds):
            out[j] = pred
    return out


def _decode(model: nn.Module, tokenizer, seqs: list[list[int]], rows: list[tuple[int, int, int]],
            budgets: Sequence[int], settle: Sequence[int] | None, device: torch.device) -> list[list[int]] | None:
    """rows: (sequence index, flat probe index, prompt length); the generated ids of each row
    (None when the model's cache cannot be split into rows)."""
    ids, mask = right_pad(seqs, tokenizer.pad_token_id, device)  # (b, t) each
    t = ids.shape[1]
    res = model(input_ids=ids, attention_mask=mask, use_cache=True)
    seq = torch.tensor([r[0] for r in rows], dtype=torch.long, device=device)  # (n,)
    plen = torch.tensor([r[2] for r in rows], dtype=torch.long, device=device)  # (n,) prompt lengths
    nxt = res.logits[seq, plen - 1].argmax(-1)  # (n,) first greedy token of each probe
    cache = res.past_key_values
    if not hasattr(cache, "batch_select_indices"):  # a cache type that cannot be split into rows
        return None
    cache.batch_select_indices(seq)  # row i: its memory's cache; slots past its prompt are masked
    att = (torch.arange(t, device=device)[None, :] < plen[:, None]).long()  # (n, t)
    limit = [budgets[r[1]] for r in rows]
    goal = [settle[r[1]] if settle is not None else None for r in rows]
    gen: list[list[int]] = [[] for _ in rows]
    live = list(range(len(rows)))  # rows still decoding, in batch order
    eos = tokenizer.eos_token_id
    step = 0
    while True:
        keep = []
        for b, tok in enumerate(nxt.tolist()):
            i = live[b]
            if tok == eos or limit[i] <= 0:
                continue
            gen[i].append(tok)
            if len(gen[i]) >= limit[i] or (goal[i] is not None and
                                           len(words(tokenizer.decode(gen[i], skip_special_tokens=True))) > goal[i]):
                continue
            keep.append(b)
        if not keep:
            return gen
        if len(keep) < len(live):  # finished rows leave the batch (and their cache)
            sel = torch.tensor(keep, dtype=torch.long, device=device)
            cache.batch_select_indices(sel)
            att, plen, nxt = att[sel], plen[sel], nxt[sel]
            live = [live[b] for b in keep]
        att = torch.cat([att, torch.ones(len(live), 1, dtype=att.dtype, device=device)], dim=1)  # (n, t+step+1)
        res = model(input_ids=nxt[:, None], attention_mask=att, position_ids=(plen + step)[:, None],
                    past_key_values=cache, use_cache=True)
        cache = res.past_key_values
        nxt = res.logits[:, -1].argmax(-1)  # (n,)
        step += 1
