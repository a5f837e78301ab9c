from __future__ import annotations

import time

import numpy as np
import pytest

from memoryd.graph.knn import knn_edges, neighbours_of

from timing import budget


def unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(x: np.ndarray, k: int, threshold: float) -> dict[tuple[int, int], float]:
    s = x.astype(np.float64) @ x.T.astype(np.float64)
    np.fill_diagonal(s, -np.inf)
    out: dict[tuple[int, int], float] = {}
    for i in range(x.shape[0]):
        for j in np.argsort(-s[i], kind="stable")[:k]:
            if s[i, j] >= threshold:
                out[(min(i, j), max(i, j))] = float(s[i, j])
    return out


@pytest.mark.parametrize(("n", "k", "threshold", "block"), [
    (300, 5, 0.0, 64),  # many blocks, ragged last block
    (257, 10, 0.1, 1000),  # single block
    (200, 3, -1.0, 7),  # threshold admits everything, tiny blocks
    (1500, 5, -1.0, 256),  # dense blocks: exercises the per-block top-k pre-cut (both sides)
])
def test_matches_brute_force(n: int, k: int, threshold: float, block: int) -> None:
    rng = np.random.default_rng(n)
    # clustered data so neighbourhoods are meaningful
    x = unit(rng, 8, 32)[rng.integers(0, 8, n)] + 0.3 * unit(rng, n, 32)
    if n > 1000:
        x = unit(rng, n, 32)  # unclustered: the top-k bar rises slowly, early blocks are dense
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    e = knn_edges(x, k=k, threshold=threshold, block=block)
    want = brute_force(x, k, threshold)
    got = dict(zip(zip(e.src.tolist(), e.dst.tolist()), e.weight.tolist()))
    assert set(got) == set(want)
    for pair, w in got.items():
        assert w == pytest.approx(want[pair], abs=1e-5)


def test_edge_invariants() -> None:
    x = unit(np.random.default_rng(0), 500, 16)
    src, dst, w = knn_edges(x, k=7, threshold=0.0, block=128)
    assert np.all(src < dst)  # no self edges, one direction
    keys = src * 500 + dst
    assert np.all(np.diff(keys) > 0)  # sorted and deduplicated
    assert np.all(w >= 0.0)
    deg = np.bincount(np.concatenate([src, dst]), minlength=500)
    assert deg.min() >= 1  # every row keeps at least its best neighbour above 0


def test_threshold_removes_weak_edges() -> None:
    x = unit(np.random.default_rng(1), 200, 64)
    e = knn_edges(x, k=5, threshold=0.99)
    assert len(e) == 0
    x[1] = x[0]
    e = knn_edges(x, k=5, threshold=0.99)
    assert list(zip(e.src.tolist(), e.dst.tolist())) == [(0, 1)]


def test_small_inputs() -> None:
    assert len(knn_edges(np.zeros((0, 4), np.float32), 3, 0.0)) == 0
    assert len(knn_edges(unit(np.random.default_rng(2), 1, 4), 3, 0.0)) == 0
    e = knn_edges(unit(np.random.default_rng(2), 3, 4), 10, -1.0)  # k > n - 1
    assert len(e) == 3
    with pytest.raises(ValueError):
        knn_edges(np.zeros(4, np.float32), 3, 0.0)


def test_neighbours_of_matches_brute_force_and_excludes() -> None:
    rng = np.random.default_rng(3)
    x = unit(rng, 1000, 24)
    q = x[10]
    nb = neighbours_of(q, x, k=5, threshold=-1.0, exclude=[10])
    sims = x @ q
    sims[10] = -np.inf
    want = np.argsort(-sims, kind="stable")[:5]
    assert nb.index.tolist() == want.tolist()
    assert np.all(np.diff(nb.weight) <= 0)
    assert 10 not in nb.index.tolist()
    assert len(neighbours_of(q, x, k=5, threshold=0.99, exclude=[10]).index) == 0


@pytest.mark.slow  # bench-sized: 100k vectors
def test_neighbours_of_is_fast_at_100k() -> None:
    x = unit(np.random.default_rng(4), 100_000, 384)
    neighbours_of(x[0], x, 10, 0.3)  # warm up
    best = min(_timed(lambda: neighbours_of(x[0], x, 10, 0.3, exclude=[0])) for _ in range(10))
    # target 20 ms (measured ~12 ms on the idle 2-core box), scaled if the box is busy
    assert best < budget(0.020), f"{best * 1000:.1f} ms"


def _timed(f) -> float:  # type: ignore[no-untyped-def]
    s = time.perf_counter()
    f()
    return time.perf_counter() - s
