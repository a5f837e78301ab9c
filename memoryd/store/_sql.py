"""SQL helpers every store module shares: IN (...) lists in chunks, the key/value state
tables, and the FTS5 segment merge. Like the rest of store/, nothing here commits."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from ..db.driver import sqlite3

__all__ = ["IN_CHUNK", "chunks", "placeholders", "state_get", "state_set", "fts_optimize"]

T = TypeVar("T")

IN_CHUNK = 500  # bound parameters per IN (...) list (SQLite's default limit is 32766; small keeps plans cheap)

# the key/value tables `state_get` / `state_set` may touch (names are interpolated: never a caller's string)
_STATE_TABLES = frozenset({"graph_state", "trust_state"})


def chunks(items: Sequence[T], n: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices of at most `n`, for one IN (...) query each."""
    for i in range(0, len(items), n):
        yield items[i : i + n]


def placeholders(n: int) -> str:
    """"?,?,...,?" with `n` marks, the inside of an IN (...) list."""
    return ",".join("?" * n)


def _state_table(table: str) -> str:
    if table not in _STATE_TABLES:
        raise ValueError(f"not a state table: {table!r}")
    return table


def state_get(conn: sqlite3.Connection, table: str, key: str) -> str | None:
    r = conn.execute(f"SELECT value FROM {_state_table(table)} WHERE key = ?", (key,)).fetchone()
    return None if r is None else str(r[0])


def state_set(conn: sqlite3.Connection, table: str, key: str, value: str) -> None:
    conn.execute(
        f"INSERT INTO {_state_table(table)}(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def fts_optimize(conn: sqlite3.Connection) -> None:
    """Merge all FTS segments into one, dropping deleted entries from the index b-tree."""
    conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
