"""Feedback events about memories (useful / wrong / harmful), append-only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..db.driver import sqlite3

__all__ = ["VERDICTS", "FeedbackRow", "insert_feedback", "list_feedback", "verdict_counts"]

VERDICTS = ("useful", "wrong", "harmful")


@dataclass(frozen=True)
class FeedbackRow:
    id: int
    memory_rowid: int  # the memory judged (the row goes with it)
    agent_id: str  # who judged it
    verdict: str  # one of VERDICTS
    note: str | None  # the judge's words; matched by subject erasure like any other field
    created_at: float


def insert_feedback(
    conn: sqlite3.Connection, memory_rowid: int, agent_id: str, verdict: str, note: str | None, now: float
) -> int:
    cur = conn.execute(
        "INSERT INTO feedback(memory_rowid, agent_id, verdict, note, created_at) VALUES (?, ?, ?, ?, ?)",
        (memory_rowid, agent_id, verdict, note, now),
    )
    return int(cur.lastrowid)


def list_feedback(
    conn: sqlite3.Connection,
    *,
    memory_rowid: int | None = None,
    after_id: int = 0,
    limit: int = 1000,
) -> list[FeedbackRow]:
    """Events in id order; `after_id` lets a consumer (trust) read incrementally."""
    where, params = "id > ?", [after_id]
    if memory_rowid is not None:
        where += " AND memory_rowid = ?"
        params.append(memory_rowid)
    rows = conn.execute(
        "SELECT id, memory_rowid, agent_id, verdict, note, created_at FROM feedback"
        f" WHERE {where} ORDER BY id LIMIT ?",
        [*params, limit],
    )
    return [FeedbackRow(*tuple(r)) for r in rows]


def verdict_counts(conn: sqlite3.Connection, memory_rowids: Sequence[int] | None = None) -> dict[int, dict[str, int]]:
    """memory rowid -> {verdict: count}, for the given memories (or all)."""
    out: dict[int, dict[str, int]] = {}
    if memory_rowids is None:
        chunks: list[list[int] | None] = [None]
    else:
        ids = list(memory_rowids)
        chunks = [ids[i : i + 500] for i in range(0, len(ids), 500)]
    for chunk in chunks:
        q = "SELECT memory_rowid, verdict, COUNT(*) FROM feedback"
        params: list = []
        if chunk is not None:
            q += f" WHERE memory_rowid IN ({','.join('?' * len(chunk))})"
            params = chunk
        for rowid, verdict, n in conn.execute(q + " GROUP BY memory_rowid, verdict", params):
            out.setdefault(rowid, {})[verdict] = n
    return out
