"""SQL for the model ledger: model versions, the memories each absorbed, STAMP edits.

Functions take a connection and never commit (services own the transaction). Nothing here
stores memory text: memories are referenced by id and a keyed MAC of their content.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..db.driver import sqlite3
from ._sql import chunks as _chunks

__all__ = [
    "STATUSES",
    "VersionRow",
    "AbsorbedRow",
    "EditRow",
    "insert_version",
    "get_version",
    "list_versions",
    "active_at_path",
    "set_status",
    "set_staging",
    "update_metrics",
    "staged_versions",
    "insert_absorbed",
    "absorbed",
    "absorbed_counts",
    "versions_absorbing",
    "delete_absorbed",
    "insert_edit",
    "edits_for_version",
    "edits_for_request",
    "assign_edits",
    "JobRow",
    "insert_job",
    "list_jobs",
    "assign_jobs",
    "finish_job",
]

STATUSES = ("active", "superseded", "weights_deleted")


@dataclass(frozen=True)
class VersionRow:
    id: str
    name: str
    path: str
    base: str
    parent_id: str | None
    created_at: float
    status: str
    method: str
    metrics: dict[str, Any] = field(default_factory=dict)
    staging_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "path": self.path, "base": self.base,
                "parent_id": self.parent_id, "created_at": self.created_at, "status": self.status,
                "method": self.method, "metrics": self.metrics, "staging_path": self.staging_path}


@dataclass(frozen=True)
class AbsorbedRow:
    version_id: str
    memory_id: str
    content_mac: str
    reproduced: bool


@dataclass(frozen=True)
class EditRow:
    id: str
    old_version: str
    new_version: str | None
    request_id: str | None
    created_at: float
    n_erased: int
    outcome: str  # edited | withdrawn | missing
    report: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "old_version": self.old_version, "new_version": self.new_version,
                "request_id": self.request_id, "created_at": self.created_at, "n_erased": self.n_erased,
                "outcome": self.outcome, "report": self.report}


def _version(r: Sequence[Any]) -> VersionRow:
    return VersionRow(r[0], r[1], r[2], r[3], r[4], float(r[5]), r[6], r[7], json.loads(r[8] or "{}"), r[9])


_VCOLS = "id, name, path, base, parent_id, created_at, status, method, metrics, staging_path"


# ---- versions -------------------------------------------------------------------------------
def insert_version(conn: sqlite3.Connection, v: VersionRow) -> None:
    if v.status not in STATUSES:
        raise ValueError(f"bad status {v.status!r}")
    conn.execute(
        f"INSERT INTO model_versions({_VCOLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (v.id, v.name, v.path, v.base, v.parent_id, v.created_at, v.status, v.method,
         json.dumps(v.metrics, sort_keys=True), v.staging_path),
    )


def get_version(conn: sqlite3.Connection, version_id: str) -> VersionRow | None:
    r = conn.execute(f"SELECT {_VCOLS} FROM model_versions WHERE id = ?", (version_id,)).fetchone()
    return _version(r) if r else None


def list_versions(conn: sqlite3.Connection, *, status: str | None = None, name: str | None = None) -> list[VersionRow]:
    q, args = f"SELECT {_VCOLS} FROM model_versions WHERE 1", []
    if status is not None:
        q += " AND status = ?"
        args.append(status)
    if name is not None:
        q += " AND name = ?"
        args.append(name)
    return [_version(r) for r in conn.execute(q + " ORDER BY created_at, id", args)]


def active_at_path(conn: sqlite3.Connection, path: str) -> VersionRow | None:
    """The active version whose weights live at `path` (the newest if several claim it)."""
    r = conn.execute(f"SELECT {_VCOLS} FROM model_versions WHERE path = ? AND status = 'active' "
                     "ORDER BY created_at DESC, id DESC LIMIT 1", (path,)).fetchone()
    return _version(r) if r else None


def set_status(conn: sqlite3.Connection, version_id: str, status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"bad status {status!r}")
    conn.execute("UPDATE model_versions SET status = ? WHERE id = ?", (status, version_id))


def set_staging(conn: sqlite3.Connection, version_id: str, staging_path: str | None) -> None:
    conn.execute("UPDATE model_versions SET staging_path = ? WHERE id = ?", (staging_path, version_id))


def update_metrics(conn: sqlite3.Connection, version_id: str, metrics: dict[str, Any]) -> None:
    conn.execute("UPDATE model_versions SET metrics = ? WHERE id = ?", (json.dumps(metrics, sort_keys=True), version_id))


def staged_versions(conn: sqlite3.Connection) -> list[VersionRow]:
    return [_version(r) for r in conn.execute(
        f"SELECT {_VCOLS} FROM model_versions WHERE staging_path IS NOT NULL ORDER BY created_at, id")]


# ---- absorbed memories ----------------------------------------------------------------------
def insert_absorbed(conn: sqlite3.Connection, rows: Iterable[AbsorbedRow]) -> int:
    cur = conn.executemany(
        "INSERT OR REPLACE INTO model_absorbed(version_id, memory_id, content_mac, reproduced) VALUES (?, ?, ?, ?)",
        [(r.version_id, r.memory_id, r.content_mac, int(r.reproduced)) for r in rows],
    )
    return cur.rowcount


def absorbed(conn: sqlite3.Connection, version_id: str) -> list[AbsorbedRow]:
    return [AbsorbedRow(r[0], r[1], r[2], bool(r[3])) for r in conn.execute(
        "SELECT version_id, memory_id, content_mac, reproduced FROM model_absorbed WHERE version_id = ? "
        "ORDER BY memory_id", (version_id,))]


def absorbed_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in conn.execute(
        "SELECT version_id, count(*) FROM model_absorbed GROUP BY version_id")}


def versions_absorbing(conn: sqlite3.Connection, memory_ids: Sequence[str]) -> dict[str, list[str]]:
    """version id -> the given memory ids it absorbed."""
    out: dict[str, list[str]] = {}
    for chunk in _chunks(list(memory_ids)):
        q = f"SELECT version_id, memory_id FROM model_absorbed WHERE memory_id IN ({','.join('?' * len(chunk))})"
        for vid, mid in conn.execute(q, list(chunk)):
            out.setdefault(vid, []).append(mid)
    return out


def delete_absorbed(conn: sqlite3.Connection, memory_ids: Sequence[str]) -> int:
    n = 0
    for chunk in _chunks(list(memory_ids)):
        n += conn.execute(f"DELETE FROM model_absorbed WHERE memory_id IN ({','.join('?' * len(chunk))})",
                          list(chunk)).rowcount
    return n


# ---- edits ----------------------------------------------------------------------------------
_ECOLS = "id, old_version, new_version, request_id, created_at, n_erased, outcome, report"


def _edit(r: Sequence[Any]) -> EditRow:
    return EditRow(r[0], r[1], r[2], r[3], float(r[4]), int(r[5]), r[6], json.loads(r[7] or "{}"))


def insert_edit(conn: sqlite3.Connection, e: EditRow) -> None:
    conn.execute(f"INSERT INTO model_edits({_ECOLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 (e.id, e.old_version, e.new_version, e.request_id, e.created_at, e.n_erased, e.outcome,
                  json.dumps(e.report, sort_keys=True)))


def edits_for_version(conn: sqlite3.Connection, version_id: str) -> list[EditRow]:
    """Edits that produced or consumed `version_id`, oldest first."""
    return [_edit(r) for r in conn.execute(
        f"SELECT {_ECOLS} FROM model_edits WHERE old_version = ? OR new_version = ? ORDER BY created_at, id",
        (version_id, version_id))]


def edits_for_request(conn: sqlite3.Connection, request_id: str | None) -> list[EditRow]:
    """Edits of one erasure request; `None`: edits not yet tied to a request."""
    if request_id is None:
        rows = conn.execute(f"SELECT {_ECOLS} FROM model_edits WHERE request_id IS NULL ORDER BY created_at, id")
    else:
        rows = conn.execute(f"SELECT {_ECOLS} FROM model_edits WHERE request_id = ? ORDER BY created_at, id",
                            (request_id,))
    return [_edit(r) for r in rows]


def assign_edits(conn: sqlite3.Connection, request_id: str) -> int:
    """Tie the edits made by the last delete transaction to its erasure request."""
    return conn.execute("UPDATE model_edits SET request_id = ? WHERE request_id IS NULL", (request_id,)).rowcount


# ---- edit jobs (migration 0012) -------------------------------------------------------------
@dataclass(frozen=True)
class JobRow:
    id: str
    version_id: str
    request_id: str | None
    created_at: float
    n_memories: int
    file: str
    state: str  # pending | done
    edit_id: str | None = None
    finished_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version_id": self.version_id, "request_id": self.request_id,
                "created_at": self.created_at, "n_memories": self.n_memories, "state": self.state,
                "edit_id": self.edit_id, "finished_at": self.finished_at}


_JCOLS = "id, version_id, request_id, created_at, n_memories, file, state, edit_id, finished_at"


def _job(r: Sequence[Any]) -> JobRow:
    return JobRow(r[0], r[1], r[2], float(r[3]), int(r[4]), r[5], r[6], r[7], r[8])


def insert_job(conn: sqlite3.Connection, j: JobRow) -> None:
    conn.execute(f"INSERT INTO model_edit_jobs({_JCOLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (j.id, j.version_id, j.request_id, j.created_at, j.n_memories, j.file, j.state, j.edit_id,
                  j.finished_at))


def list_jobs(conn: sqlite3.Connection, *, state: str | None = None, version_id: str | None = None,
              request_id: str | None = None) -> list[JobRow]:
    q, args = f"SELECT {_JCOLS} FROM model_edit_jobs WHERE 1", []
    for col, val in (("state", state), ("version_id", version_id), ("request_id", request_id)):
        if val is not None:
            q += f" AND {col} = ?"
            args.append(val)
    return [_job(r) for r in conn.execute(q + " ORDER BY created_at, id", args)]


def assign_jobs(conn: sqlite3.Connection, request_id: str) -> int:
    """Tie the jobs recorded by the last delete transaction to its erasure request."""
    return conn.execute("UPDATE model_edit_jobs SET request_id = ? WHERE request_id IS NULL",
                        (request_id,)).rowcount


def finish_job(conn: sqlite3.Connection, job_id: str, edit_id: str | None, now: float) -> None:
    conn.execute("UPDATE model_edit_jobs SET state = 'done', edit_id = ?, finished_at = ? WHERE id = ?",
                 (edit_id, now, job_id))
