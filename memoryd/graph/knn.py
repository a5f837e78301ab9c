"""Exact k-nearest-neighbour similarity edges over L2-normalised embeddings.

The full rebuild (:func:`knn_edges`) walks the upper triangle of the n x n
cosine-similarity matrix in square blocks, so each pair is multiplied once and
memory stays at O(block^2 + n*k). Every block updates a running top-k for the
rows on *both* sides of the block. A per-row bar ``tau = max(threshold,
current k-th best)`` filters each block with one vectorised comparison, so
after the first few blocks only the handful of entries that actually enter a
top-k are touched.

The incremental path (:func:`neighbours_of`) is a single matrix-vector product
(single-threaded, see there) plus ``argpartition``.

Both are exact (float32 throughout); ties at the k-th place may go either way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["KnnEdges", "knn_edges", "neighbours_of", "Neighbours", "batch_neighbours"]

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

_DENSE = 32  # mean candidates per row, in units of k, above which a block is pre-cut to top-k


@dataclass(frozen=True)
class KnnEdges:
    """Undirected similarity edges: ``src[i] < dst[i]``, sorted by (src, dst), no duplicates.

    Unpacks as ``src, dst, weight = knn_edges(...)``.
    """

    src: I64  # (m,) row index into the vectors matrix
    dst: I64  # (m,)
    weight: F32  # (m,) cosine similarity, >= threshold

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.src, self.dst, self.weight))

    def __len__(self) -> int:
        return int(self.src.shape[0])


@dataclass(frozen=True)
class Neighbours:
    """The k nearest rows to one query vector, best first."""

    index: I64  # (<=k,)
    weight: F32  # (<=k,) cosine similarity, descending


def _check_vectors(vectors: np.ndarray) -> F32:
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be 2-D (n, d), got shape {vectors.shape}")
    return np.ascontiguousarray(vectors, dtype=np.float32)


def _merge_candidates(
    topv: F32, topi: I64, rows: I64, cols: I64, vals: F32, k: int
) -> I64:
    """Merge (row, col, val) candidates into the per-row top-k in place.

    ``topv``/``topi`` are (b, k) views for one block of rows; ``rows`` are local
    row indices (ascending, as produced by ``flatnonzero``). Returns the local
    rows that were touched so the caller can refresh their bar.
    """
    b = topv.shape[0]
    counts = np.bincount(rows, minlength=b)
    touched = np.flatnonzero(counts)
    m = int(counts.max())
    starts = np.cumsum(counts) - counts
    pos = np.arange(rows.shape[0]) - starts[rows]  # position within its row
    slot = np.empty(b, dtype=np.int64)
    slot[touched] = np.arange(touched.shape[0])
    t = touched.shape[0]
    pv = np.full((t, k + m), -np.inf, dtype=np.float32)  # (t, k+m)
    pi = np.full((t, k + m), -1, dtype=np.int64)
    pv[:, :k] = topv[touched]
    pi[:, :k] = topi[touched]
    pv[slot[rows], k + pos] = vals
    pi[slot[rows], k + pos] = cols
    sel = np.argpartition(-pv, k - 1, axis=1)[:, :k]  # (t, k)
    topv[touched] = np.take_along_axis(pv, sel, axis=1)
    topi[touched] = np.take_along_axis(pi, sel, axis=1)
    return touched


def _offer(
    sims: F32,
    topv: F32,
    topi: I64,
    tau: F32,
    offset: int,
    k: int,
    floor: np.float32,
    axis: int,
) -> None:
    """Offer every entry of a similarity block to one side's running top-k.

    ``axis=1``: the block's rows are this side (``sims`` is (b, c), columns are
    ``offset + j``). ``axis=0``: its columns are this side, read without a
    transpose (a transpose copy costs ~40x a comparison).
    """
    bar = tau[:, None] if axis == 1 else tau[None, :]
    flat = np.flatnonzero(sims > bar)
    if flat.shape[0] == 0:
        return
    side = sims.shape[0] if axis == 1 else sims.shape[1]
    other = sims.shape[1] if axis == 1 else sims.shape[0]
    if flat.shape[0] > _DENSE * k * side and other > k:
        # dense block (low threshold, early blocks): first cut each row to its top-k
        # within this block, so candidates stay O(k * side) instead of O(block^2)
        # partition along contiguous rows: along axis 0 it is ~30x slower than a transpose copy
        lanes = sims if axis == 1 else np.ascontiguousarray(sims.T)  # (side, other)
        kth = np.partition(lanes, other - k, axis=1)[:, other - k]  # (side,)
        kth = np.nextafter(kth, np.float32(-np.inf))  # keep ties at the cut
        bar = np.maximum(bar, kth[:, None] if axis == 1 else kth[None, :])
        flat = np.flatnonzero(sims > bar)
    ncols = sims.shape[1]
    r = flat // ncols
    c = flat % ncols
    vals = sims.ravel()[flat]
    if axis == 1:
        rows, cols = r, c  # already grouped by row (flatnonzero is row-major)
    else:
        order = np.argsort(c, kind="stable")
        rows, cols, vals = c[order], r[order], vals[order]
    touched = _merge_candidates(topv, topi, rows, cols + offset, vals, k)
    kth = topv[touched].min(axis=1)
    tau[touched] = np.maximum(kth, floor)


def knn_edges(
    vectors: np.ndarray,
    k: int,
    threshold: float,
    block: int = 4096,
) -> KnnEdges:
    """Exact kNN graph: each row's ``k`` most similar other rows with cosine >= ``threshold``.

    Args:
        vectors: (n, d) float32, rows L2-normalised (cosine == dot product).
        k: neighbours per row (before symmetrisation); must be >= 1.
        threshold: minimum cosine similarity for an edge (inclusive).
        block: rows per block; peak extra memory is ~2 * block^2 * 4 bytes.

    Returns:
        :class:`KnnEdges` ``(src, dst, weight)``: the union of every row's
        top-k as undirected edges (``src < dst``), no self edges, deduplicated,
        sorted by (src, dst). A pair appears once even if each is in the
        other's top-k.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    if block < 1:
        raise ValueError("block must be >= 1")
    x = _check_vectors(vectors)
    n = x.shape[0]
    empty = KnnEdges(
        np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    )
    if n < 2:
        return empty
    k = min(k, n - 1)
    topv = np.full((n, k), -np.inf, dtype=np.float32)  # running top-k values
    topi = np.full((n, k), -1, dtype=np.int64)
    floor = np.nextafter(np.float32(threshold), np.float32(-np.inf))  # admit sims >= threshold
    tau = np.full(n, floor, dtype=np.float32)  # per-row admission bar: strict '>'
    starts = list(range(0, n, block))
    for bi, i0 in enumerate(starts):
        i1 = min(i0 + block, n)
        xi = x[i0:i1]
        for j0 in starts[bi:]:
            j1 = min(j0 + block, n)
            sims = xi @ x[j0:j1].T  # (bi, bj) cosine similarities
            if i0 == j0:
                np.fill_diagonal(sims, -np.inf)  # no self edges
                _offer(sims, topv[i0:i1], topi[i0:i1], tau[i0:i1], j0, k, floor, axis=1)
            else:
                _offer(sims, topv[i0:i1], topi[i0:i1], tau[i0:i1], j0, k, floor, axis=1)
                _offer(sims, topv[j0:j1], topi[j0:j1], tau[j0:j1], i0, k, floor, axis=0)
        log.debug("knn: rows %d-%d done", i0, i1)

    keep = topi >= 0  # slots never filled stay -1 / -inf
    a = np.repeat(np.arange(n, dtype=np.int64), k).reshape(n, k)[keep]
    b = topi[keep]
    w = topv[keep]
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    key = lo * n + hi
    key, first = np.unique(key, return_index=True)  # sorted by (lo, hi)
    edges = KnnEdges(lo[first], hi[first], w[first].astype(np.float32))
    assert np.all(edges.src < edges.dst)
    return edges


def neighbours_of(
    vec: np.ndarray,
    vectors: np.ndarray,
    k: int,
    threshold: float,
    exclude: Iterable[int] = (),
) -> Neighbours:
    """The ``k`` rows of ``vectors`` most similar to ``vec`` with cosine >= ``threshold``.

    For adding one memory incrementally: one (n, d) @ (d,) product and an
    ``argpartition`` (~1 ms at 10k x 384, ~12 ms at 100k x 384 on one core).
    ``exclude`` lists row indices never to return (e.g. the memory itself if it
    is already in ``vectors``, or tombstoned rows).
    """
    x = _check_vectors(vectors)
    q = np.asarray(vec, dtype=np.float32).reshape(-1)
    if q.shape[0] != x.shape[1]:
        raise ValueError(f"vec has dim {q.shape[0]}, vectors have dim {x.shape[1]}")
    n = x.shape[0]
    if n == 0 or k < 1:
        return Neighbours(np.empty(0, np.int64), np.empty(0, np.float32))
    # single-threaded SIMD loop, not BLAS gemv: gemv's thread hand-off stalls for whole
    # scheduler slices when the cores are busy (10k rows: 1 ms -> 20 ms median under load)
    sims = np.einsum("ij,j->i", x, q, optimize=False)  # (n,)
    ex = np.fromiter(exclude, dtype=np.int64)
    if ex.size:
        sims[ex] = -np.inf
    k = min(k, n)
    idx = np.argpartition(-sims, k - 1)[:k] if k < n else np.arange(n)
    idx = idx[sims[idx] >= threshold]
    order = np.lexsort((idx, -sims[idx]))  # best first, ties by index
    idx = idx[order].astype(np.int64)
    return Neighbours(idx, sims[idx].astype(np.float32))


def batch_neighbours(
    ids: np.ndarray, mat: np.ndarray, vecs: np.ndarray, k: int, threshold: float, cols: int = 64
) -> list[dict[int, float]]:
    """Exact top-``k`` rows of ``mat`` (cosine >= ``threshold``) for each row of ``vecs``,
    as ``{row id: cosine}`` dicts keyed by ``ids``: (n, d) @ (d, c) blocks, so a bulk
    import costs one matrix product per ``cols`` memories instead of a scan each."""
    out: list[dict[int, float]] = []
    n = mat.shape[0]
    kk = min(k, n)
    for c0 in range(0, vecs.shape[0], cols):
        sims = vecs[c0 : c0 + cols] @ mat.T  # (c, n): one contiguous row per new memory
        # partitioning along contiguous rows is ~6x faster than down the columns of (n, c)
        top = np.argpartition(sims, n - kk, axis=1)[:, n - kk :] if kk < n else np.arange(n)[None, :].repeat(sims.shape[0], 0)
        for j in range(sims.shape[0]):
            idx = top[j]
            w = sims[j, idx]
            keep = w >= threshold
            out.append({int(ids[i]): float(x) for i, x in zip(idx[keep].tolist(), w[keep].tolist())})
    return out
