"""Embedding vectors as float32 BLOBs, one row per memory (cascades on delete)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..db.driver import sqlite3

__all__ = ["insert_vectors", "load_vectors", "load_vectors_after", "all_rowids", "count_vectors", "count_by_model",
           "without_vector", "existing_rowids"]


def insert_vectors(
    conn: sqlite3.Connection, rowids: Sequence[int], vectors: np.ndarray, model: str
) -> None:
    assert vectors.ndim == 2 and len(rowids) == vectors.shape[0]
    v = np.ascontiguousarray(vectors, dtype="<f4")
    dim = v.shape[1]
    conn.executemany(
        "INSERT OR REPLACE INTO embeddings(memory_rowid, model, dim, vector) VALUES (?,?,?,?)",
        [(int(r), model, dim, v[i].tobytes()) for i, r in enumerate(rowids)],
    )


def _load(rows: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    dim = rows[0][1]
    buf = b"".join(r[2] for r in rows)
    mat = np.frombuffer(buf, dtype="<f4").reshape(len(rows), dim).astype(np.float32, copy=True)
    return rowids, mat


def load_vectors(conn: sqlite3.Connection, model: str) -> tuple[np.ndarray, np.ndarray]:
    rows = conn.execute(
        "SELECT memory_rowid, dim, vector FROM embeddings WHERE model = ? ORDER BY memory_rowid",
        (model,),
    ).fetchall()
    return _load(rows)


def load_vectors_after(
    conn: sqlite3.Connection, model: str, after_rowid: int
) -> tuple[np.ndarray, np.ndarray]:
    rows = conn.execute(
        "SELECT memory_rowid, dim, vector FROM embeddings WHERE model = ? AND memory_rowid > ?"
        " ORDER BY memory_rowid",
        (model, after_rowid),
    ).fetchall()
    return _load(rows)


def all_rowids(conn: sqlite3.Connection, model: str) -> np.ndarray:
    rows = conn.execute(
        "SELECT memory_rowid FROM embeddings WHERE model = ? ORDER BY memory_rowid", (model,)
    ).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def count_vectors(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]


def count_by_model(conn: sqlite3.Connection) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute("SELECT model, count(*) FROM embeddings GROUP BY model")}


def without_vector(conn: sqlite3.Connection, model: str, after_rowid: int, limit: int) -> list[tuple[int, str]]:
    """(rowid, content) of memories with no vector of `model` (none, or another model's),
    in rowid order after `after_rowid`."""
    return [(int(r[0]), str(r[1])) for r in conn.execute(
        "SELECT m.rowid, m.content FROM memories m LEFT JOIN embeddings e ON e.memory_rowid = m.rowid"
        " WHERE (e.model IS NULL OR e.model != ?) AND m.rowid > ? ORDER BY m.rowid LIMIT ?",
        (model, after_rowid, limit))]


def existing_rowids(conn: sqlite3.Connection, rowids: Sequence[int]) -> set[int]:
    ids = [int(r) for r in rowids]
    out: set[int] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        out.update(r[0] for r in conn.execute(
            f"SELECT rowid FROM memories WHERE rowid IN ({','.join('?' * len(chunk))})", chunk))
    return out


def load_index_rows(
    conn: sqlite3.Connection, model: str, after_rowid: int = 0, rowids: Sequence[int] | None = None
) -> tuple[list[int], list[str], list[str], np.ndarray]:
    """(rowids, namespaces, contents, vectors) of memories with a vector of `model`,
    for building the in-RAM indexes."""
    base = (
        "SELECT m.rowid, m.namespace, m.content, e.dim, e.vector FROM memories m"
        " JOIN embeddings e ON e.memory_rowid = m.rowid WHERE e.model = ?"
    )
    if rowids is not None:
        ids = list(rowids)
        rows = []
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows += conn.execute(
                base + f" AND m.rowid IN ({','.join('?' * len(chunk))}) ORDER BY m.rowid", (model, *chunk)
            ).fetchall()
    else:
        rows = conn.execute(base + " AND m.rowid > ? ORDER BY m.rowid", (model, after_rowid)).fetchall()
    if not rows:
        return [], [], [], np.zeros((0, 0), dtype=np.float32)
    dim = rows[0][3]
    mat = np.frombuffer(b"".join(r[4] for r in rows), dtype="<f4").reshape(len(rows), dim).astype(np.float32)
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], mat
