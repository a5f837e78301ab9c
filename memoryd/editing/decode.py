"""Greedy continuations of fact probes, sharing each memory's forward pass.

Every fact probe of a memory is a prefix of it (prompts.py), so one forward pass over the whole
memory already holds what a probe's prefill would compute: its KV cache is the memory's cache up
to the prompt's length, and its first greedy token is the argmax at the prompt's last token.
Each probe row then decodes on its own copy of the memory's cache, with the positions after its
prompt masked out. Compared with left-padded generation per probe this reads each memory once
instead of once per probe.

A row stops at <eos>, at its token budget, or, with `settle_words`, once more words than that
have begun: the first n words cannot change any more, and they are all that scoring reads.
Probes whose prompt does not tokenise to a prefix of the memory fall back to `greedy_continue`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .prompts import Probe
from .tokens import encode
from .verify import greedy_continue, words

__all__ = ["probe_continuations"]


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
        for (_, j, _), toks in zip(rows, gen):
            out[j] = tokenizer.decode(toks, skip_special_tokens=True)
    if fallback:
        preds = greedy_continue(model, tokenizer, [flat[j][1].prompt for j in fallback],
                                [budgets[j] for j in fallback], device)
        for j, pred in zip(fallback, preds):
            out[j] = pred
    return out


def _decode(model: nn.Module, tokenizer, seqs: list[list[int]], rows: list[tuple[int, int, int]],
            budgets: Sequence[int], settle: Sequence[int] | None, device: torch.device) -> list[list[int]]:
    """rows: (sequence index, flat probe index, prompt length); the generated ids of each row."""
    t = max(len(q) for q in seqs)
    ids = torch.full((len(seqs), t), tokenizer.pad_token_id, dtype=torch.long)  # (b, t) right padding
    mask = torch.zeros((len(seqs), t), dtype=torch.long)  # (b, t)
    for i, q in enumerate(seqs):
        ids[i, : len(q)] = torch.tensor(q)
        mask[i, : len(q)] = 1
    res = model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=True)
    seq = torch.tensor([r[0] for r in rows], dtype=torch.long, device=device)  # (n,)
    plen = torch.tensor([r[2] for r in rows], dtype=torch.long, device=device)  # (n,) prompt lengths
    nxt = res.logits[seq, plen - 1].argmax(-1)  # (n,) first greedy token of each probe
    cache = res.past_key_values
    cache.batch_select_indices(seq)  # row i: its memory's cache; slots past its prompt are masked
    att = (torch.arange(t, device=device)[None, :] < plen[:, None]).long()  # (n, t)
    limit = [budgets[r[1]] for r in rows]
    goal = [settle[r[1]] if settle is not None else None for r in rows]
    gen: list[list[int]] = [[] for _ in rows]
    done = [False] * len(rows)
    eos = tokenizer.eos_token_id
    step = 0
    while True:
        for i, tok in enumerate(nxt.tolist()):
            if done[i]:
                continue
            if tok == eos:
                done[i] = True
                continue
            gen[i].append(tok)
            if len(gen[i]) >= limit[i] or (goal[i] is not None and
                                           len(words(tokenizer.decode(gen[i], skip_special_tokens=True))) > goal[i]):
                done[i] = True
        if all(done):
            return gen
        att = torch.cat([att, torch.ones(len(rows), 1, dtype=att.dtype, device=device)], dim=1)  # (n, t+step+1)
        res = model(input_ids=nxt[:, None], attention_mask=att, position_ids=(plen + step)[:, None],
                    past_key_values=cache, use_cache=True)
        cache = res.past_key_values
        nxt = res.logits[:, -1].argmax(-1)  # (n,)
        step += 1
