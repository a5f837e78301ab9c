"""Files memoryd writes with memory content, kept free of erased memories.

    epoch()                                 changes whenever an erasure deletes something
    register(path, fmt)                     record a file before writing it: erasures rewrite it
    write(path, fmt, produce, render)       register, then write atomically (again if an erasure
                                            deleted something meanwhile)
    track(path, fmt, write)                 register, then let `write()` write the file itself
                                            (graph exports, plots)
    subject_export(subjects, out)           Art. 15 / Art. 20: every memory about a subject
    rewrite(entries, is_erased, needles)    erasure cleanup: rewrite them without the erased

:class:`ErasureExports` is owned by :class:`memoryd.services.erasure.ErasureService`, which
offers these as ``epoch``, ``register_export``, ``write_export`` and ``subject_export``. File
formats and atomic writes live in :mod:`memoryd.erasure.exports` (pure: bytes and files, no
database); SQL in :mod:`memoryd.store.erasure`.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ...db.driver import sqlite3
from ...db import transaction
from ...erasure import exports as xfiles
from ...erasure.models import ErasurePlan, ErasureRequest
from ...errors import ErasureError
from ...store import erasure as estore
from ...store import erasure_fields as fstore
from ...store import memories as mstore

__all__ = ["ErasureExports"]

_ULID_RE = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


class ErasureExports:
    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        lock: threading.RLock,
        clock: Callable[[], float],
        plan: Callable[[ErasureRequest], ErasurePlan],
    ):
        self.conn = conn
        self.lock = lock
        self.clock = clock
        self._plan = plan  # the erasure dry run: a subject export lists what it would erase
        self.last_actions: list[dict[str, Any]] = []  # what the last rewrite did to each file

    def epoch(self) -> int:
        """Changes whenever an erasure deletes something (exports compare it before/after)."""
        with self.lock:
            return estore.erasure_epoch(self.conn)

    def register(self, path: Path, fmt: str = "jsonl") -> None:
        """Record a file memoryd is about to write with memory content: every later erasure
        rewrites it. Register *before* reading the memories."""
        with self.lock, transaction(self.conn):
            estore.register_export(self.conn, str(Path(path).resolve()), fmt, self.clock())

    def write(self, path: Path, fmt: str, produce: Callable[[], Sequence[Any]],
              render: Callable[[Sequence[Any]], str]) -> int:
        """Register `path`, then write `render(produce())` atomically; written again if an
        erasure deleted something meanwhile, so the file never holds erased memories."""
        self.register(path, fmt)
        for _ in range(5):
            before = self.epoch()
            items = produce()
            xfiles.write_atomic(Path(path), lambda fh: fh.write(render(items)))
            if self.epoch() == before:
                return len(items)
        raise ErasureError(f"erasures kept running while {path} was written; try again")

    def track(self, path: Path, fmt: str, write: Callable[[], Any]) -> Any:
        """Register `path`, then call `write()` (which writes the file itself: graph exports,
        plots); called again if an erasure deleted something meanwhile. Returns its result."""
        self.register(path, fmt)
        for _ in range(5):
            before = self.epoch()
            out = write()
            _owner_only(path)
            if self.epoch() == before:
                return out
        raise ErasureError(f"erasures kept running while {path} was written; try again")

    def subject_export(self, subjects: Sequence[str], out: Path | None = None) -> dict[str, Any]:
        """Art. 15 (access) / Art. 20 (portability): every memory about the subject, as JSON,
        with why it matched. Written to `out` (registered: erasure rewrites it) if given."""
        def produce() -> list[dict[str, Any]]:
            plan = self._plan(ErasureRequest(subjects=tuple(subjects)))
            with self.lock:
                rows = mstore.get_by_rowids(self.conn, [i.rowid for i in (*plan.items, *plan.redactions)])
                notes = fstore.feedback_notes(self.conn, [i.rowid for i in plan.items])
            return [{**rows[i.rowid].to_dict(), "feedback_notes": notes.get(i.rowid, []),
                     "matched_fields": sorted({f for f, _ in i.fields}), "matched_because": list(i.reasons)}
                    for i in (*plan.items, *plan.redactions) if i.rowid in rows]

        def doc(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
            return {"format": "memoryd-subject-export/1", "legal_basis": "GDPR Art. 15 and Art. 20",
                    "generated_at": self.clock(), "subjects": list(subjects), "count": len(items),
                    "memories": list(items)}

        if out is None:
            return doc(produce())
        holder: dict[str, Any] = {}

        def render(items: Sequence[dict[str, Any]]) -> str:
            holder["doc"] = doc(items)
            return json.dumps(holder["doc"], ensure_ascii=False, indent=2) + "\n"

        self.write(out, "subject-json", produce, render)
        return {**holder["doc"], "path": str(out)}

    def rewrite(self, entries, is_erased, needles) -> dict[str, int]:
        """During an erasure's cleanup: rewrite every registered file without the erased
        memories (by id; unparsable parts by id or by the erased text's bytes, `needles`).
        Files shredded or gone are unregistered. Returns counts for the receipt."""
        stats = {"exports_rewritten": 0, "exports_shredded": 0, "export_lines_removed": 0}
        self.last_actions = []
        if not entries:
            return stats
        raw = [n.data for n in needles] if needles else []

        def mentions(text: str) -> bool:
            if any(is_erased(u) for u in _ULID_RE.findall(text)):
                return True
            b = text.encode("utf-8", errors="replace")
            return any(n in b for n in raw)

        gone = []
        anything = needles is None or bool(raw)  # None: resumed, the rows were deleted earlier
        for path, fmt in entries:
            if fmt == "plot" and not anything:
                continue
            res = xfiles.rewrite_export(Path(path), fmt, is_erased, mentions)
            self.last_actions.append({"file": xfiles.FILE_ROLES.get(fmt, fmt), "format": fmt, "action": res.status,
                                      "removed": res.lines_removed})
            stats["export_lines_removed"] += res.lines_removed
            if res.status == "rewritten":
                stats["exports_rewritten"] += 1
            elif res.status == "shredded":
                stats["exports_shredded"] += 1
            if res.status in ("shredded", "missing"):
                gone.append(path)
        if gone:
            with self.lock, transaction(self.conn):
                for p in gone:
                    estore.unregister_export(self.conn, p)
        return stats


def _owner_only(path: Path) -> None:
    """A file `write()` made with the umask's mode (a plot, a graph export) holds words of
    memories: make it readable by its owner only, as the exports memoryd writes itself."""
    try:
        if path.is_file() and not path.is_symlink():
            os.chmod(path, 0o600)
    except OSError:  # not ours to change (another owner's file): it was written, leave it
        pass
