"""Trust tables (migration 0004): the evidence log, its sealed head, agents' first sighting,
writes on probation, bookkeeping. MACs are computed by the caller (memoryd.trust.chain);
this module only stores and reads. Functions never commit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..db.driver import sqlite3
from . import _sql

__all__ = [
    "EvidenceRow",
    "HeadRow",
    "WriteRow",
    "append_evidence",
    "last_entry",
    "mac_at",
    "evidence_after",
    "iter_evidence",
    "head_get",
    "head_set",
    "ensure_agents",
    "agent_facts",
    "add_writes",
    "write_times",
    "recent_writes",
    "pending_writes",
    "set_probation",
    "written_at",
    "write_counts",
    "memory_rows",
    "state_get",
    "state_set",
    "max_feedback_id",
]


@dataclass(frozen=True)
class EvidenceRow:
    seq: int
    subject_type: str
    subject_id: str
    kind: str
    created_at: float
    record: str  # canonical JSON, exactly as sealed
    mac: str


@dataclass(frozen=True)
class HeadRow:
    count: int
    head: str
    seal: str


@dataclass(frozen=True)
class WriteRow:
    memory_rowid: int
    memory_id: str
    author_id: str
    written_at: float


_EV_COLS = "seq, subject_type, subject_id, kind, created_at, record, mac"


# ---- evidence log ------------------------------------------------------------------------
def append_evidence(conn: sqlite3.Connection, rows: Sequence[EvidenceRow]) -> None:
    conn.executemany(
        f"INSERT INTO trust_evidence({_EV_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(r.seq, r.subject_type, r.subject_id, r.kind, r.created_at, r.record, r.mac) for r in rows],
    )


def last_entry(conn: sqlite3.Connection) -> tuple[int, str] | None:
    """(seq, mac) of the last record, or None for an empty log."""
    r = conn.execute("SELECT seq, mac FROM trust_evidence ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(r[0]), str(r[1])) if r else None


def mac_at(conn: sqlite3.Connection, seq: int) -> str | None:
    r = conn.execute("SELECT mac FROM trust_evidence WHERE seq = ?", (seq,)).fetchone()
    return str(r[0]) if r else None


def evidence_after(conn: sqlite3.Connection, after_seq: int) -> list[EvidenceRow]:
    rows = conn.execute(f"SELECT {_EV_COLS} FROM trust_evidence WHERE seq > ? ORDER BY seq", (after_seq,))
    return [EvidenceRow(*tuple(r)) for r in rows]


def iter_evidence(conn: sqlite3.Connection) -> Iterator[EvidenceRow]:
    for r in conn.execute(f"SELECT {_EV_COLS} FROM trust_evidence ORDER BY seq"):
        yield EvidenceRow(*tuple(r))


def head_get(conn: sqlite3.Connection) -> HeadRow | None:
    r = conn.execute("SELECT count, head, seal FROM trust_head WHERE id = 1").fetchone()
    return HeadRow(int(r[0]), str(r[1]), str(r[2])) if r else None


def head_set(conn: sqlite3.Connection, head: HeadRow) -> None:
    conn.execute(
        "INSERT INTO trust_head(id, count, head, seal) VALUES (1, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET count = excluded.count, head = excluded.head, seal = excluded.seal",
        (head.count, head.head, head.seal),
    )


# ---- agents ------------------------------------------------------------------------------
def ensure_agents(conn: sqlite3.Connection, agent_ids: Iterable[str], now: float) -> None:
    """Record when trust first saw these agents (no-op for known ones)."""
    conn.executemany(
        "INSERT OR IGNORE INTO trust_agents(agent_id, first_seen) VALUES (?, ?)", [(a, now) for a in agent_ids]
    )


def agent_facts(conn: sqlite3.Connection, agent_ids: Sequence[str] | None = None) -> dict[str, float]:
    """agent id -> creation time: the earlier of its registration (`agents`) and the first
    time trust saw it. Every agent known to either table, or just the ones asked for."""
    q = (
        "SELECT id, MIN(t) FROM ("
        " SELECT agent_id AS id, first_seen AS t FROM trust_agents"
        " UNION ALL SELECT id, created_at AS t FROM agents)"
    )
    params: list = []
    if agent_ids is not None:
        ids = list(agent_ids)
        if not ids:
            return {}
        q += f" WHERE id IN ({','.join('?' * len(ids))})"
        params = ids
    return {r[0]: float(r[1]) for r in conn.execute(q + " GROUP BY id", params)}


# ---- writes and probation ----------------------------------------------------------------
def add_writes(conn: sqlite3.Connection, rows: Iterable[tuple[int, str, float]]) -> None:
    """(memory rowid, author id, written at) for freshly inserted memories."""
    conn.executemany(
        "INSERT OR IGNORE INTO trust_writes(memory_rowid, author_id, written_at) VALUES (?, ?, ?)", list(rows)
    )


def write_times(conn: sqlite3.Connection, author_id: str, since: float) -> list[float]:
    rows = conn.execute(
        "SELECT written_at FROM trust_writes WHERE author_id = ? AND written_at > ?", (author_id, since)
    )
    return [float(r[0]) for r in rows]


def recent_writes(conn: sqlite3.Connection, author_ids: Sequence[str], limit: int) -> list[int]:
    """Rowids of the most recent memories written by any of these agents, newest first."""
    ids = list(author_ids)
    if not ids or limit <= 0:
        return []
    rows = conn.execute(
        f"SELECT memory_rowid FROM trust_writes WHERE author_id IN ({','.join('?' * len(ids))})"
        " ORDER BY written_at DESC, memory_rowid DESC LIMIT ?",
        (*ids, limit),
    )
    return [int(r[0]) for r in rows]


def pending_writes(conn: sqlite3.Connection, written_before: float) -> list[WriteRow]:
    rows = conn.execute(
        "SELECT w.memory_rowid, m.id, w.author_id, w.written_at FROM trust_writes w"
        " JOIN memories m ON m.rowid = w.memory_rowid"
        " WHERE w.probation = 'pending' AND w.written_at <= ? ORDER BY w.written_at",
        (written_before,),
    )
    return [WriteRow(int(r[0]), str(r[1]), str(r[2]), float(r[3])) for r in rows]


def set_probation(conn: sqlite3.Connection, outcomes: Iterable[tuple[int, str]]) -> None:
    """(memory rowid, 'accepted' | 'rejected')."""
    conn.executemany(
        "UPDATE trust_writes SET probation = ? WHERE memory_rowid = ?", [(o, r) for r, o in outcomes]
    )


def written_at(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, float]:
    ids = list(rowids)
    out: dict[int, float] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        q = f"SELECT memory_rowid, written_at FROM trust_writes WHERE memory_rowid IN ({','.join('?' * len(chunk))})"
        out.update({int(r[0]): float(r[1]) for r in conn.execute(q, chunk)})
    return out


def write_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Live memories per author."""
    return {r[0]: int(r[1]) for r in conn.execute("SELECT agent_id, COUNT(*) FROM memories GROUP BY agent_id")}


def memory_rows(conn: sqlite3.Connection) -> list[tuple[int, str, str, float, str | None]]:
    """(rowid, id, author, created_at, tool) of every memory: what trust needs, without content."""
    return [
        (int(r[0]), str(r[1]), str(r[2]), float(r[3]), r[4])
        for r in conn.execute("SELECT rowid, id, agent_id, created_at, tool FROM memories ORDER BY rowid")
    ]


# ---- bookkeeping -------------------------------------------------------------------------
def state_get(conn: sqlite3.Connection, key: str) -> str | None:
    return _sql.state_get(conn, "trust_state", key)


def state_set(conn: sqlite3.Connection, key: str, value: str) -> None:
    _sql.state_set(conn, "trust_state", key, value)


def max_feedback_id(conn: sqlite3.Connection) -> int | None:
    """Highest feedback event id, or None when the feedback table does not exist."""
    try:
        r = conn.execute("SELECT MAX(id) FROM feedback").fetchone()
    except sqlite3.OperationalError:
        return None
    return int(r[0]) if r and r[0] is not None else 0
