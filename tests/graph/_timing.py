"""Timing budgets for a box shared with other jobs.

A wall-clock target measured on an idle 2-core machine is scaled by the
observed oversubscription (1-minute load average / cores), never below 1x.
"""

from __future__ import annotations

import os


def budget(seconds: float) -> float:
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - not on this platform
        load = 0.0
    return seconds * max(1.0, load / cores)
