"""Reproducible igraph randomness without leaking global state.

igraph draws random numbers from Python's ``random`` module by default. This
swaps in a private ``random.Random(seed)`` for the duration of a block (under a
lock, as the generator is process-global) and restores the module afterwards.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import igraph as ig

__all__ = ["seeded_igraph"]

_LOCK = threading.Lock()


@contextmanager
def seeded_igraph(seed: int) -> Iterator[None]:
    with _LOCK:
        ig.set_random_number_generator(random.Random(seed))
        try:
            yield
        finally:
            ig.set_random_number_generator(random)
