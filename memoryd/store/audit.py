"""The audit log: an append-only table of records sealed into a keyed hash chain.

The MACs are computed by the caller (memoryd.trust.chain); this module only stores and
reads them. The chain head (count + last MAC) is also kept in `meta`, sealed, so that
cutting records off the end of the log is detected too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from ..db.driver import sqlite3

__all__ = ["AuditRecord", "append", "last", "get", "by_seq", "iter_records", "count", "head_get", "head_set"]

_HEAD = "audit.head"


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    kind: str
    ref_id: str
    created_at: float
    body: str  # canonical JSON text, exactly as sealed
    prev_mac: str
    mac: str

    def chain_record(self) -> dict:
        """What the MAC covers."""
        return {"seq": self.seq, "kind": self.kind, "ref_id": self.ref_id,
                "created_at": self.created_at, "body": self.body}


def _rec(r) -> AuditRecord:
    return AuditRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6])


_COLS = "seq, kind, ref_id, created_at, body, prev_mac, mac"


def append(conn: sqlite3.Connection, rec: AuditRecord) -> None:
    conn.execute(
        f"INSERT INTO audit_log({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (rec.seq, rec.kind, rec.ref_id, rec.created_at, rec.body, rec.prev_mac, rec.mac),
    )


def last(conn: sqlite3.Connection) -> AuditRecord | None:
    r = conn.execute(f"SELECT {_COLS} FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return _rec(r) if r else None


def get(conn: sqlite3.Connection, ref_id: str) -> AuditRecord | None:
    r = conn.execute(f"SELECT {_COLS} FROM audit_log WHERE ref_id = ?", (ref_id,)).fetchone()
    return _rec(r) if r else None


def by_seq(conn: sqlite3.Connection, seq: int) -> AuditRecord | None:
    r = conn.execute(f"SELECT {_COLS} FROM audit_log WHERE seq = ?", (seq,)).fetchone()
    return _rec(r) if r else None


def iter_records(conn: sqlite3.Connection, kind: str | None = None) -> Iterator[AuditRecord]:
    if kind is None:
        rows = conn.execute(f"SELECT {_COLS} FROM audit_log ORDER BY seq")
    else:
        rows = conn.execute(f"SELECT {_COLS} FROM audit_log WHERE kind = ? ORDER BY seq", (kind,))
    for r in rows:
        yield _rec(r)


def count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]


def head_get(conn: sqlite3.Connection) -> dict | None:
    r = conn.execute("SELECT value FROM meta WHERE key = ?", (_HEAD,)).fetchone()
    return json.loads(r[0]) if r else None


def head_set(conn: sqlite3.Connection, head: dict) -> None:
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (_HEAD, json.dumps(head, sort_keys=True)),
    )
