"""Timing budgets for a box shared with other jobs: every test that asserts a duration or a
rate goes through :func:`budget` (``from timing import budget``; tests/ is on sys.path).

A wall-clock target measured on an idle 2-core machine is scaled by the
observed oversubscription (1-minute load average / cores), never below 1x.
Timings proper belong in `memoryd bench ...`; these only catch order-of-magnitude regressions.
"""

from __future__ import annotations

import os

__all__ = ["budget", "min_rate"]


def budget(seconds: float) -> float:
    """`seconds`, stretched by the current load (never shrunk)."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - not on this platform
        load = 0.0
    return seconds * max(1.0, load / cores)


def min_rate(per_s: float) -> float:
    """A throughput floor (items per second), lowered by the same load factor."""
    return per_s / budget(1.0)
