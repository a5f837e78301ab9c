"""Pack token sequences that share prefixes into few rows for one forward pass.

STAMP reads keys from texts that mostly repeat each other: a memory, its fact questions
("<the memory up to 'She lives in'> what? Lyon") and repair continuations all start with the
same tokens. In a causal LM a token's activations depend only on the tokens before it and
their positions, so a sequence that shares its first L tokens with another can reuse them:
only its remaining tokens are run, attending to the other's first L tokens and to
themselves, at positions L, L+1, ... (a custom 4D attention mask and position ids).
Unrelated sequences share rows block-diagonally, so rows are about equally long and little
is padded. The activations equal those of one row per sequence up to float rounding.

Only for models whose attention takes an additive 4D mask (`eager`, `sdpa`); callers fall
back to plain right-padded rows otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

__all__ = ["Packed", "pack", "supports_packing"]

PACKABLE_ATTENTION = ("eager", "sdpa")


def supports_packing(model) -> bool:
    """Whether `model`'s attention accepts a custom additive 4D mask and position ids."""
    impl = getattr(getattr(model, "config", None), "_attn_implementation", None)
    return impl in PACKABLE_ATTENTION


@dataclass
class Packed:
    input_ids: torch.Tensor  # (b, t)
    allowed: torch.Tensor  # (b, t, t) bool: query j may attend to key i
    position_ids: torch.Tensor  # (b, t)
    rows: torch.Tensor  # (p,) row of each requested position, in sequence order
    cols: torch.Tensor  # (p,) its column
    owner: torch.Tensor  # (p,) index of the sequence it belongs to
    real_tokens: int  # tokens run (padding excluded)

    def attention_mask(self, dtype: torch.dtype | None, device: torch.device | str = "cpu") -> torch.Tensor:
        """(b, 1, t, t): boolean (True = attend) for dtype None, else additive (0 where attention
        is allowed, the dtype's minimum elsewhere)."""
        if dtype is None:
            return self.allowed[:, None].to(device)
        mask = torch.zeros(self.allowed.shape, dtype=dtype).masked_fill_(~self.allowed, torch.finfo(dtype).min)
        return mask[:, None].to(device)

    def model_inputs(self, model, device: torch.device | str) -> dict[str, torch.Tensor]:
        """Keyword arguments for `model`'s forward: sdpa takes the boolean mask, eager an additive one."""
        impl = model.config._attn_implementation
        dtype = None if impl == "sdpa" else next(model.parameters()).dtype
        return {"input_ids": self.input_ids.to(device), "attention_mask": self.attention_mask(dtype, device),
                "position_ids": self.position_ids.to(device)}


@dataclass
class _Tree:
    host: int  # the sequence run in full
    size: int  # tokens in the tree: the host's plus each branch's unshared ones
    branches: list[tuple[int, int]] = field(default_factory=list)  # (sequence, shared prefix length)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def pack(seqs: Sequence[Sequence[int]], positions: Sequence[Sequence[int]], pad: int, *,
         min_share: float = 0.5) -> Packed:
    """Pack `seqs` (each a token list starting with <bos>) so that `positions[i]` (indices into
    seqs[i]) can be read from the packed forward pass at `(rows, cols)`.

    Each sequence joins the earlier tree whose host shares the longest token prefix with it,
    when that is at least `min_share` of its tokens and more than <bos>, and runs only its
    remaining tokens there; the others become hosts (a short shared start is not worth a
    wider row). Trees are then placed in rows first-fit by
    decreasing size, with rows as long as the largest tree.
    """
    if len(seqs) != len(positions):
        raise ValueError("one position list per sequence")
    if any(not s for s in seqs):
        raise ValueError("empty sequence")
    trees: list[_Tree] = []
    for i, s in enumerate(seqs):
        best, share = None, 0
        for tree in trees:
            c = _common_prefix(seqs[tree.host], s)
            if c > share:
                best, share = tree, c
        if best is not None and share >= max(2, min_share * len(s)):
            best.branches.append((i, share))
            best.size += len(s) - share
        else:
            trees.append(_Tree(i, len(s)))
    width = max(t.size for t in trees)
    rows_of_trees: list[list[_Tree]] = []
    fill: list[int] = []
    for tree in sorted(trees, key=lambda t: -t.size):
        for r, used in enumerate(fill):
            if used + tree.size <= width:
                rows_of_trees[r].append(tree)
                fill[r] += tree.size
                break
        else:
            rows_of_trees.append([tree])
            fill.append(tree.size)

    b = len(rows_of_trees)
    ids = torch.full((b, width), pad, dtype=torch.long)
    pos = torch.zeros((b, width), dtype=torch.long)
    allowed = torch.zeros((b, width, width), dtype=torch.bool)
    # where each sequence's token i sits: (row, column of its token 0 or host, shared length, own offset)
    place: dict[int, tuple[int, int, int, int]] = {}
    for r, row in enumerate(rows_of_trees):
        o = 0
        for tree in row:
            host = seqs[tree.host]
            n = len(host)
            ids[r, o : o + n] = torch.tensor(list(host), dtype=torch.long)
            pos[r, o : o + n] = torch.arange(n)
            allowed[r, o : o + n, o : o + n] = torch.ones(n, n, dtype=torch.bool).tril()
            place[tree.host] = (r, o, n, o)
            host_at = o
            o += n
            for i, share in tree.branches:
                rest = list(seqs[i][share:])
                k = len(rest)
                if k:
                    ids[r, o : o + k] = torch.tensor(rest, dtype=torch.long)
                    pos[r, o : o + k] = torch.arange(share, share + k)
                    allowed[r, o : o + k, host_at : host_at + share] = True
                    allowed[r, o : o + k, o : o + k] = torch.ones(k, k, dtype=torch.bool).tril()
                place[i] = (r, host_at, share, o - share)
                o += k
        idle = torch.arange(o, width)
        allowed[r, idle, idle] = True  # padding attends to itself only (no empty softmax rows)

    rows: list[int] = []
    cols: list[int] = []
    owner: list[int] = []
    for i, ps in enumerate(positions):
        r, host_at, share, own_at = place[i]
        for p in ps:
            if not 0 <= p < len(seqs[i]):
                raise ValueError(f"position {p} lies outside sequence {i}")
            rows.append(r)
            cols.append(host_at + p if p < share else own_at + p)
            owner.append(i)
    real = sum(t.size for t in trees)
    as_long = lambda xs: torch.tensor(xs, dtype=torch.long)  # noqa: E731
    return Packed(ids, allowed, pos, as_long(rows), as_long(cols), as_long(owner), real)
