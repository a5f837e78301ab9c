"""Retry on SQLite write contention.

Inside one server process every use of the connection is serialised by ``app.lock``
(one writer). Other processes (the CLI, a second server) can still hold the write lock:
the connection's busy timeout waits for them, and if that runs out this retries the
whole unit of work with jittered exponential backoff. Units of work are transactions,
rolled back on failure, and ``remember`` is idempotent (content hash), so a retry never
writes twice.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from ..errors import StoreBusy

__all__ = ["is_locked", "retry_locked"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def is_locked(exc: BaseException) -> bool:
    """db/ raises StoreBusy for SQLITE_BUSY / SQLITE_LOCKED; nothing here reads SQLite messages."""
    return isinstance(exc, StoreBusy)


def retry_locked(
    fn: Callable[[], T],
    *,
    attempts: int = 6,
    base_delay: float = 0.05,
    max_delay: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call fn; on StoreBusy wait 50 ms, 100 ms, ... (x0.5-1 jitter) and retry."""
    assert attempts >= 1
    for attempt in range(attempts):
        try:
            return fn()
        except StoreBusy as exc:
            if attempt == attempts - 1:
                raise StoreBusy(f"database stayed locked after {attempts} attempts; try again") from exc
            delay = min(max_delay, base_delay * 2**attempt) * (0.5 + random.random() / 2)
            log.info("database locked (attempt %d/%d); retrying in %.0f ms", attempt + 1, attempts, delay * 1000)
            sleep(delay)
    raise AssertionError("unreachable")
