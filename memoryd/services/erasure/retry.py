"""No silent half-erasure: a request whose cleanup or verification did not succeed after its
delete committed stays pending, is listed as incomplete, and is retried by this process.

A collaborator held by :class:`memoryd.services.erasure.ErasureService` as `retries`. Its
state: what each incomplete request's forensic scan needs (in RAM only), the retry thread and
its stop event; it calls back `resume()` (the service's resume_pending) and `has_pending()`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ...db.driver import sqlite3

from ...db import transaction
from ...erasure.models import ErasureReceipt
from ...store import erasure as estore
from .stash import Stash

__all__ = ["ErasureRetries", "RETRY_DELAYS_S"]

log = logging.getLogger("memoryd.services.erasure")

RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # in-process retries of an incomplete erasure


class ErasureRetries:
    def __init__(self, conn: sqlite3.Connection, *, lock: threading.RLock, resume: Callable[[], Any],
                 has_pending: Callable[[], bool]):
        self.conn = conn
        self.lock = lock
        self._resume = resume
        self._has_pending = has_pending
        self._stash: dict[str, Stash] = {}  # request id -> what the scan needs (RAM only)
        self._retry_lock = threading.Lock()
        self._retrier: threading.Thread | None = None
        self._closed = threading.Event()

    def stash(self, rid: str) -> Stash | None:
        """What this process kept for the scan of an incomplete request (None: nothing)."""
        return self._stash.get(rid)

    def drop(self, rid: str) -> None:
        """The request is sealed: let go of its erased text."""
        self._stash.pop(rid, None)

    def keep_pending(self, req: estore.PendingRequest, stash: Stash, body: dict[str, Any],
                      error: str | None) -> ErasureReceipt:
        """Cleanup or verification did not succeed after the delete committed (a reader
        blocked the WAL checkpoint, the database was locked, a file held erased bytes): the
        request stays pending, this process retries it, `erase receipts` lists it as
        incomplete. Returns an unsealed receipt (seq 0) with status 'incomplete'."""
        attempts = int(req.options.get("attempts", 0)) + 1
        why = error or ("the WAL could not be truncated (a reader holds a transaction)"
                        if not body["cleanup"].get("wal_truncated") else "the forensic verification found leftovers")
        with self.lock, transaction(self.conn):
            estore.update_options(self.conn, req.id, {**req.options, "attempts": attempts, "last_error": why})
        self._stash[req.id] = stash
        body.update({"status": "incomplete", "attempts": attempts, "reason": why})
        self._schedule()
        return ErasureReceipt(id=req.id, seq=0, body=body, prev_mac="", mac="")

    # ---- retries (no silent half-erasure) -----------------------------------------------------
    def _schedule(self) -> None:
        with self._retry_lock:
            if self._closed.is_set() or (self._retrier is not None and self._retrier.is_alive()):
                return
            self._retrier = threading.Thread(target=self._retry_loop, name="memoryd-erasure-retry", daemon=True)
            self._retrier.start()

    def _retry_loop(self) -> None:
        for delay in RETRY_DELAYS_S:
            if self._closed.wait(delay):
                return
            try:
                self._resume()
                if not self._has_pending():
                    return
            except Exception as exc:  # noqa: BLE001 - keep retrying; the request stays pending
                log.warning("retrying pending erasures failed: %s", exc)
        log.warning("erasures still incomplete after %d retries: one waiting for a model edit is finished when "
                    "the edit is verified; otherwise run `memoryd erase resume`", len(RETRY_DELAYS_S))

    def close(self) -> None:
        """Stop retrying in this process (pending requests stay recorded; resumed on open)."""
        self._closed.set()

