"""SQL for subject matching over a memory's metadata, and for redacting one field.

Fields that can hold personal data besides the text itself (docs/erasure.md, "Every field"):

    source, session_id, tool, kind, namespace   columns of `memories`
    tag                                         `memory_tags` (mirrored in memories.tags)
    feedback                                    `feedback.note`, what agents said about a memory

Matching works on *distinct values* (far fewer than rows): the erasure planner reads each
distinct value by the subject's rules, then maps the values that match back to rowids.
Functions take a connection and never commit (services own the transaction)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence

from ..db.driver import sqlite3
from ._sql import chunks, placeholders


__all__ = ["FIELDS", "REDACTABLE", "STRUCTURAL", "distinct_values", "rowids_for_values", "metadata_of", "feedback_notes", "redact"]

_COLUMNS = {"source": "source", "session_id": "session_id", "tool": "tool", "kind": "kind", "namespace": "namespace"}
FIELDS = (*_COLUMNS, "tag", "feedback")
REDACTABLE = frozenset(FIELDS) - {"namespace"}  # a namespace hit erases the memory
# names of buckets, not data about a person: the tool is set by memoryd's adapter (mcp, cli),
# a namespace name is shared by many memories and kept by its ownership record. They are
# matched against subjects like every field (a hit erases the memory), but an erased
# memory's values of these fields are not forensic needles.
STRUCTURAL = frozenset({"tool", "namespace"})

def _query(field: str) -> tuple[str, str]:
    """(value column expression, FROM clause with a `memory_rowid` column) for a field."""
    if field in _COLUMNS:
        return _COLUMNS[field], "(SELECT rowid AS memory_rowid, * FROM memories)"
    if field == "tag":
        return "tag", "memory_tags"
    if field == "feedback":
        return "note", "feedback"
    raise ValueError(f"not a metadata field: {field!r}")


def distinct_values(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """field -> its distinct non-empty values over the whole store."""
    out: dict[str, list[str]] = {}
    for field in FIELDS:
        col, src = _query(field)
        try:
            out[field] = [r[0] for r in conn.execute(
                f"SELECT DISTINCT {col} FROM {src} WHERE {col} IS NOT NULL AND {col} != ''")]
        except sqlite3.OperationalError:  # table absent in this schema version
            out[field] = []
    return out


def rowids_for_values(conn: sqlite3.Connection, field: str, values: Sequence[str]) -> dict[int, set[str]]:
    """rowid -> the given values its `field` holds."""
    col, src = _query(field)
    out: dict[int, set[str]] = defaultdict(set)
    vals = list(values)
    for chunk in chunks(vals):
        for r in conn.execute(
            f"SELECT memory_rowid, {col} FROM {src} WHERE {col} IN ({placeholders(len(chunk))})", chunk
        ):
            out[r[0]].add(r[1])
    return dict(out)


def metadata_of(conn: sqlite3.Connection, rowids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
    """rowid -> [(field, value)] of every metadata value the memories hold (feedback notes
    included): what must leave the disk with them (the forensic scan looks for it)."""
    ids = list(rowids)
    out: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for field in FIELDS:
        col, src = _query(field)
        for chunk in chunks(ids):
            try:
                rows = conn.execute(
                    f"SELECT memory_rowid, {col} FROM {src} WHERE memory_rowid IN ({placeholders(len(chunk))})"
                    f" AND {col} IS NOT NULL AND {col} != ''", chunk).fetchall()
            except sqlite3.OperationalError:
                rows = []
            for r in rows:
                out[r[0]].append((field, r[1]))
    return dict(out)


def feedback_notes(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, list[str]]:
    """rowid -> the notes agents left with their feedback on it (subject access export)."""
    return {r: [v for f, v in vals if f == "feedback"] for r, vals in metadata_of(conn, rowids).items()
            if any(f == "feedback" for f, _ in vals)}


def redact(conn: sqlite3.Connection, rowid: int, field: str, value: str) -> int:
    """Remove one metadata value from a memory that otherwise stays. Returns rows changed."""
    if field not in REDACTABLE:
        raise ValueError(f"field {field!r} cannot be redacted (the memory is erased instead)")
    if field == "kind":
        return conn.execute("UPDATE memories SET kind = 'note' WHERE rowid = ? AND kind = ?", (rowid, value)).rowcount
    if field in _COLUMNS:
        col = _COLUMNS[field]
        return conn.execute(f"UPDATE memories SET {col} = NULL WHERE rowid = ? AND {col} = ?", (rowid, value)).rowcount
    if field == "feedback":
        return conn.execute("UPDATE feedback SET note = NULL WHERE memory_rowid = ? AND note = ?", (rowid, value)).rowcount
    r = conn.execute("SELECT tags FROM memories WHERE rowid = ?", (rowid,)).fetchone()
    if r is None:
        return 0
    tags = [t for t in json.loads(r[0]) if t != value]
    conn.execute("UPDATE memories SET tags = ? WHERE rowid = ?", (json.dumps(tags), rowid))
    return conn.execute("DELETE FROM memory_tags WHERE memory_rowid = ? AND tag = ?", (rowid, value)).rowcount
