"""Step 4 of an erasure: make the erased bytes unrecoverable, on a separate maintenance
connection and without holding App.lock (searches go on): FTS5 clean-up, registered files
rewritten, VACUUM by policy, WAL checkpoint(TRUNCATE).

A collaborator held by :class:`memoryd.services.erasure.ErasureService` as `cleanup`; its
state is what it is given: the main connection and lock (for the tally and the page-cache
shrink), the settings (the WAL's path), the export registry and the step seam."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...config import Settings
from ...db import checkpoint_truncate, pragma, shrink_memory, transaction
from ...db import driver as sqldriver
from ...db.driver import sqlite3
from ...store import erasure as estore
from .exports import ErasureExports

__all__ = ["ErasureCleanup", "VACUUM_FREE_RATIO"]

log = logging.getLogger("memoryd.services.erasure")

VACUUM_FREE_RATIO = 0.25  # 'auto' vacuums when this share of pages is free (space, not privacy)


class ErasureCleanup:
    def __init__(self, conn: sqlite3.Connection, *, lock: threading.RLock, settings: Settings,
                 exports: ErasureExports, step: Callable[[str], None]):
        self.conn = conn
        self.lock = lock
        self.settings = settings
        self.exports = exports
        self._step = step  # the service's on_step seam

    def run(self, mc: sqlite3.Connection, req: estore.PendingRequest, export_entries, is_erased, needles,
            counts: dict[str, int], timings: dict[str, float]) -> dict[str, Any]:
        """Clean up after request `req` on the maintenance connection `mc`; returns the
        receipt's `cleanup` section (updates `counts` and `timings`)."""
        out: dict[str, Any] = {"sqlite": sqlite3.sqlite_version, "sqlite_module": sqldriver.NAME, "secure_delete": "on"}
        assert pragma(mc, "secure_delete") == 1
        t = time.perf_counter()
        if estore.fts_secure_delete_supported():  # the delete itself rewrote the segments
            out["fts"] = "secure-delete (at delete time; no merge needed)"
        else:  # the delete path merged the index already; again here in case it was resumed
            estore.fts_optimize(mc)
            out["fts"] = "optimize (FTS5 secure-delete needs SQLite 3.42+)"
        timings["fts_optimize_ms"] = _ms(t)
        self._step("fts.optimized")

        t = time.perf_counter()
        stats = self.exports.rewrite(export_entries, is_erased, needles)
        out["files"] = list(self.exports.last_actions)
        for k, v in stats.items():
            counts[k] = counts.get(k, 0) + v
        if export_entries:  # keep the tally if we crash before the receipt
            with self.lock, transaction(self.conn):
                estore.update_counts(self.conn, req.id, counts)
        timings["exports_ms"] = _ms(t)
        self._step("exports.rewritten")

        policy = req.options.get("vacuum", "auto")
        pages, free = estore.page_stats(mc)
        t = time.perf_counter()
        if policy == "always" or (policy == "auto" and pages and free / pages >= VACUUM_FREE_RATIO):
            estore.vacuum(mc)
            out["vacuum"] = "done"
        else:
            out["vacuum"] = (f"skipped ({policy}; {free} of {pages} pages free): freed pages and cells were "
                             "already overwritten with zeros by secure_delete")
        timings["vacuum_ms"] = _ms(t)
        self._step("vacuumed")

        t = time.perf_counter()
        out["wal_truncated"] = self.truncate_wal(mc)
        timings["wal_checkpoint_ms"] = _ms(t)
        with self.lock:
            shrink_memory(self.conn)  # drop cached pages that held the rows
        shrink_memory(mc)
        self._step("wal.truncated")
        return out

    def truncate_wal(self, mc: sqlite3.Connection) -> bool:
        wal = Path(str(self.settings.db_path) + "-wal")
        for attempt in range(3):
            if checkpoint_truncate(mc, attempts=3, wait_ms=100) and (not wal.exists() or wal.stat().st_size == 0):
                return True
            time.sleep(0.05 * (attempt + 1))
        log.warning("could not truncate the WAL: readers kept it busy")
        return False


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)
