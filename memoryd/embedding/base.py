"""What every embedder offers (:class:`Embedder`), and the thread budget rule they share."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

__all__ = ["Embedder", "SMALL_BATCH", "cores"]


class Embedder(Protocol):
    name: str
    dim: int

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:  # (n, dim) float32, L2-normalised
        ...

    def close(self) -> None: ...


SMALL_BATCH = 8  # at most this many texts: encode on a single thread


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
