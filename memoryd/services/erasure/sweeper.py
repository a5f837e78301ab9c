"""A long-running process (`memoryd serve`, `memoryd ui`) finishes erasures left pending.

An erasure whose WAL truncation or verification was blocked (a reader held a transaction)
stays pending until some process resumes it. A CLI process resumes at open; a server that
runs for days would never open again, so it sweeps: every `interval_s` it makes one cheap
indexed read (is any request pending?) and, if so, calls the service's `resume_pending()`
on this background thread, never on a tool call's. A resume that is still blocked leaves
the request pending; the next tick tries again.

Concurrency:
  - in this process: one sweep at a time (a lock taken without waiting; a tick that finds a
    sweep running is skipped), and `resume_pending` itself skips a request another thread
    of this process (the in-process retries, an `erase` call) is completing;
  - an erasure another process is executing right now is not touched: a sweep resumes only
    requests whose own run gave up once (the WAL was busy: attempts >= 1) or that were
    recorded more than SETTLED_S ago (their process crashed or was killed);
  - across processes: sweeps take an advisory lock file next to the database
    (``<db>-erasure.lock``, 0600, created only when something is pending), without
    waiting: a sweep that finds another process's sweep running skips its tick. A resume
    at open or by `memoryd erase resume` in another process may still overlap; the steps
    are idempotent and the receipt is sealed once (audit.seal), so at worst one of them
    finds the WAL busy and the request is retried.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ...config import ERASURE_SWEEP_S

__all__ = ["ErasureSweeper", "DEFAULT_SWEEP_S", "SETTLED_S"]

log = logging.getLogger("memoryd.services.erasure")

DEFAULT_SWEEP_S = ERASURE_SWEEP_S  # MEMORYD_ERASURE_SWEEP_S; 0 turns the sweep off
SETTLED_S = 300.0  # a request never attempted is left to its own process for this long (a crash: then ours)


@contextmanager
def _process_lock(path: Path) -> Iterator[bool]:
    """An exclusive advisory lock on `path`, taken without waiting; yields whether it was got
    (True where the platform has no flock: the in-process lock still holds)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield True
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class ErasureSweeper:
    """The periodic resume of pending erasures. State: the thread, its stop event, the
    in-process sweep lock, the last outcome (for logs and tests)."""

    def __init__(self, *, has_pending: Callable[[], bool], resume: Callable[[], Sequence[Any]],
                 lock_path: Path, interval_s: float = DEFAULT_SWEEP_S):
        if interval_s <= 0:
            raise ValueError("interval_s must be positive (0 means: do not start a sweeper)")
        self._has_pending = has_pending
        self._resume = resume  # ErasureService.resume_pending
        self.lock_path = Path(lock_path)
        self.interval_s = float(interval_s)
        self._sweeping = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: dict[str, Any] | None = None  # the last sweep that found something pending

    def start(self) -> "ErasureSweeper":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="memoryd-erasure-sweep", daemon=True)
            self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sweep()

    def sweep(self) -> dict[str, Any] | None:
        """One tick: None when nothing is pending or another sweep (here or in another
        process) is running; else {"finished": [...], "incomplete": [...], "error": ...}."""
        if not self._sweeping.acquire(blocking=False):
            return None
        try:
            if self._stop.is_set() or not self._has_pending():
                return None
            with _process_lock(self.lock_path) as got:
                if not got:
                    log.debug("another process is resuming pending erasures; next tick")
                    return None
                out: dict[str, Any] = {"finished": [], "incomplete": [], "error": None}
                for r in self._resume():
                    status = r.body.get("status")
                    (out["incomplete"] if status == "incomplete" else out["finished"]).append((r.id, status))
                    if status == "incomplete":
                        log.warning("pending erasure %s still incomplete (%s); retried on the next tick",
                                    r.id, r.body.get("reason"))
                    else:
                        log.info("pending erasure %s finished by this process: %s", r.id, status)
        except Exception as exc:  # noqa: BLE001 - a sweep never takes the server down; next tick
            out = {"finished": [], "incomplete": [], "error": f"{type(exc).__name__}: {exc}"}
            log.warning("resuming pending erasures failed: %s; retried on the next tick", out["error"])
        finally:
            self._sweeping.release()
        self.last = out
        return out

    def stop(self, timeout: float = 10.0) -> None:
        """Stop ticking; waits up to `timeout` s for a sweep in progress (the request it was
        finishing stays pending if it is cut short: it is resumed on the next open)."""
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
