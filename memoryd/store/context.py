"""Context vectors (migration 0011): a session memory embedded with the one before it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..db.driver import sqlite3

__all__ = ["previous_in_session", "insert_context_vectors", "load_context_rows", "context_pairs"]


def previous_in_session(
    conn: sqlite3.Connection, namespace: str, session_id: str, agent_id: str, created_at: float
) -> tuple[int, str] | None:
    """(rowid, content) of the latest memory this agent wrote in this namespace and session at
    or before `created_at`, or None."""
    r = conn.execute(
        "SELECT rowid, content FROM memories WHERE namespace = ? AND session_id = ? AND agent_id = ?"
        " AND created_at <= ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
        (namespace, session_id, agent_id, created_at),
    ).fetchone()
    return (int(r[0]), str(r[1])) if r else None


def insert_context_vectors(
    conn: sqlite3.Connection, pairs: Sequence[tuple[int, int]], vectors: np.ndarray, model: str
) -> None:
    """`pairs`: (memory rowid, rowid of the memory it was embedded with), one per vector row."""
    assert vectors.ndim == 2 and len(pairs) == vectors.shape[0]
    v = np.ascontiguousarray(vectors, dtype="<f4")
    conn.executemany(
        "INSERT OR REPLACE INTO context_vectors(memory_rowid, context_rowid, model, dim, vector) VALUES (?,?,?,?,?)",
        [(int(m), int(c), model, v.shape[1], v[i].tobytes()) for i, (m, c) in enumerate(pairs)],
    )


LOAD_SQL = (
    "SELECT c.memory_rowid, c.context_rowid, m.namespace, c.dim, c.vector FROM context_vectors c"
    " CROSS JOIN memories m ON m.rowid = c.memory_rowid WHERE c.model = ? AND c.memory_rowid > ?"
    " ORDER BY c.memory_rowid"
)


def load_context_rows(
    conn: sqlite3.Connection, model: str, after_rowid: int = 0
) -> tuple[list[int], list[int], list[str], np.ndarray]:
    """(rowids, context rowids, namespaces, vectors) of context vectors of `model`.

    CROSS JOIN keeps context_vectors the outer loop: with a plain JOIN the planner carried
    `memory_rowid > ?` over to memories and walked every memory above it (14.7 ms at 100k
    memories with no context vector at all, on every search after another process wrote;
    0.03 ms this way)."""
    rows = conn.execute(LOAD_SQL, (model, after_rowid)).fetchall()
    if not rows:
        return [], [], [], np.zeros((0, 0), dtype=np.float32)
    dim = rows[0][3]
    mat = np.frombuffer(b"".join(r[4] for r in rows), dtype="<f4").reshape(len(rows), dim).astype(np.float32)
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], mat


def context_pairs(conn: sqlite3.Connection, model: str) -> dict[int, int]:
    return {int(r[0]): int(r[1]) for r in conn.execute(
        "SELECT memory_rowid, context_rowid FROM context_vectors WHERE model = ?", (model,))}
