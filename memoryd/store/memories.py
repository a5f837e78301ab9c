"""Memory rows, their tags and the FTS5 index (kept in sync by triggers)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence

from ..db import driver
from ..db.driver import sqlite3
from ..models import Memory, NewMemory, Provenance, SearchFilters
from ._sql import fts_optimize

__all__ = [
    "set_tags",
    "insert_memory",
    "get_by_id",
    "get_by_rowids",
    "find_by_hash",
    "list_memories",
    "iter_all",
    "delete_by_rowids",
    "deletions_after",
    "last_deletion",
    "vectors_rewritten",
    "prune_deletions",
    "count",
    "counts_by",
    "fts_query",
    "fts_search",
    "filter_rowids",
    "fts_integrity_check",
    "fts_optimize",
    "meta_get",
    "meta_set",
    "supersede",
    "superseded_among",
    "superseded_by",
    "version_links",
]

_COLS = (
    "rowid, id, content, kind, tags, namespace, importance, created_at, updated_at,"
    " content_hash, agent_id, session_id, tool, source"
)


def _row_to_memory(r: sqlite3.Row) -> Memory:
    return Memory(
        id=r["id"],
        rowid=r["rowid"],
        content=r["content"],
        kind=r["kind"],
        tags=tuple(json.loads(r["tags"])),
        namespace=r["namespace"],
        importance=r["importance"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        content_hash=r["content_hash"],
        provenance=Provenance(
            agent_id=r["agent_id"], session_id=r["session_id"], tool=r["tool"], source=r["source"]
        ),
    )


def insert_memory(
    conn: sqlite3.Connection, mem_id: str, new: NewMemory, content_hash: str, now: float
) -> int:
    """Insert one memory under a rowid never used before (migration 0008), so that no
    process's in-RAM index entry for a deleted row can ever answer for a new one."""
    created = new.created_at if new.created_at is not None else now
    cur = conn.execute(
        "INSERT INTO memories(rowid, id, content, kind, tags, namespace, importance, created_at,"
        " updated_at, content_hash, agent_id, session_id, tool, source)"
        " VALUES ((SELECT last + 1 FROM memory_rowid_seq WHERE id = 1),?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            mem_id,
            new.content,
            new.kind,
            json.dumps(list(new.tags)),
            new.namespace,
            new.importance,
            created,
            now,
            content_hash,
            new.provenance.agent_id,
            new.provenance.session_id,
            new.provenance.tool,
            new.provenance.source,
        ),
    )
    rowid = int(cur.lastrowid)
    if new.tags:
        conn.executemany(
            "INSERT OR IGNORE INTO memory_tags(tag, memory_rowid) VALUES (?, ?)",
            [(t, rowid) for t in new.tags],
        )
    return rowid


def set_tags(conn: sqlite3.Connection, rowid: int, tags: Sequence[str], now: float) -> None:
    """Replace a memory's tags (the JSON column and its memory_tags mirror); secure_delete
    overwrites the old values in the pages."""
    conn.execute("UPDATE memories SET tags = ?, updated_at = ? WHERE rowid = ?", (json.dumps(list(tags)), now, rowid))
    conn.execute("DELETE FROM memory_tags WHERE memory_rowid = ?", (rowid,))
    conn.executemany("INSERT OR IGNORE INTO memory_tags(tag, memory_rowid) VALUES (?, ?)", [(t, rowid) for t in tags])


def get_by_id(conn: sqlite3.Connection, mem_id: str) -> Memory | None:
    r = conn.execute(f"SELECT {_COLS} FROM memories WHERE id = ?", (mem_id,)).fetchone()
    return _row_to_memory(r) if r else None


def get_by_rowids(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, Memory]:
    out: dict[int, Memory] = {}
    ids = list(rowids)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        q = f"SELECT {_COLS} FROM memories WHERE rowid IN ({','.join('?' * len(chunk))})"
        for r in conn.execute(q, chunk):
            out[r["rowid"]] = _row_to_memory(r)
    return out


def find_by_hash(conn: sqlite3.Connection, namespace: str, content_hash: str) -> Memory | None:
    r = conn.execute(
        f"SELECT {_COLS} FROM memories WHERE namespace = ? AND content_hash = ?",
        (namespace, content_hash),
    ).fetchone()
    return _row_to_memory(r) if r else None


def _where(filters: SearchFilters, alias: str = "m") -> tuple[str, list]:
    clauses: list[str] = []
    params: list = []
    if filters.namespaces is not None:
        if not filters.namespaces:
            return "0", []
        clauses.append(f"{alias}.namespace IN ({','.join('?' * len(filters.namespaces))})")
        params.extend(filters.namespaces)
    if filters.exclude_namespaces:
        clauses.append(f"{alias}.namespace NOT IN ({','.join('?' * len(filters.exclude_namespaces))})")
        params.extend(filters.exclude_namespaces)
    for column, op, value in (("agent_id", "=", filters.agent_id), ("kind", "=", filters.kind),
                              ("created_at", ">=", filters.since), ("created_at", "<=", filters.until)):
        if value is not None:
            clauses.append(f"{alias}.{column} {op} ?")
            params.append(value)
    for tag in filters.tags:
        clauses.append(
            f"EXISTS (SELECT 1 FROM memory_tags t WHERE t.tag = ? AND t.memory_rowid = {alias}.rowid)"
        )
        params.append(tag)
    return (" AND ".join(clauses) or "1"), params


def list_memories(
    conn: sqlite3.Connection, filters: SearchFilters, limit: int, offset: int = 0
) -> list[Memory]:
    where, params = _where(filters)
    q = (
        f"SELECT {', '.join('m.' + c.strip() for c in _COLS.split(','))} FROM memories m"
        f" WHERE {where} ORDER BY m.created_at DESC, m.rowid DESC LIMIT ? OFFSET ?"
    )
    return [_row_to_memory(r) for r in conn.execute(q, [*params, limit, offset])]


def iter_all(conn: sqlite3.Connection, filters: SearchFilters | None = None) -> Iterator[Memory]:
    where, params = _where(filters or SearchFilters())
    q = f"SELECT {', '.join('m.' + c.strip() for c in _COLS.split(','))} FROM memories m WHERE {where} ORDER BY m.rowid"
    for r in conn.execute(q, params):
        yield _row_to_memory(r)


def filter_rowids(conn: sqlite3.Connection, filters: SearchFilters) -> list[int]:
    where, params = _where(filters)
    return [r[0] for r in conn.execute(f"SELECT m.rowid FROM memories m WHERE {where}", params)]


def delete_by_rowids(conn: sqlite3.Connection, rowids: Iterable[int]) -> int:
    """Delete memories; tags, vectors and feedback cascade, the FTS trigger issues 'delete'
    commands. Every delete path (forget, erase, supersede, re-import) goes through here, so
    none leaves a word of the rows in the full-text index: on SQLite >= 3.42 FTS5's
    'secure-delete' rewrites the segments that held the terms; on older SQLite the index is
    merged into one segment (FTS5 'optimize'), which costs far more (docs/erasure.md).
    Freed cells and pages are zeroed by PRAGMA secure_delete (every connection); the caller
    truncates the WAL after committing (memoryd.db.checkpoint_truncate)."""
    ids = list(rowids)
    if not ids:
        return 0
    if driver.FTS_SECURE_DELETE:
        fts_set_secure_delete(conn)
    n = 0
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        n += conn.execute(
            f"DELETE FROM memories WHERE rowid IN ({','.join('?' * len(chunk))})", chunk
        ).rowcount
    if n and not driver.FTS_SECURE_DELETE:
        fts_optimize(conn)
    return n


def deletions_after(conn: sqlite3.Connection, seq: int) -> tuple[int, list[int], bool]:
    """(newest seq, rowids deleted after `seq`, complete). complete=False when entries
    after `seq` were pruned already: the caller must reload rather than patch."""
    rows = conn.execute(
        "SELECT seq, memory_rowid FROM memory_deletions WHERE seq > ? ORDER BY seq", (seq,)
    ).fetchall()
    if not rows:
        top = conn.execute("SELECT coalesce(max(seq), 0) FROM memory_deletions").fetchone()[0]
        return max(seq, int(top)), [], True
    return int(rows[-1][0]), [int(r[1]) for r in rows], int(rows[0][0]) == seq + 1


def vectors_rewritten(conn: sqlite3.Connection) -> int:
    """Counter bumped whenever a vector is written for a row below the newest (migration 0008)."""
    r = conn.execute("SELECT vectors_rewritten FROM memory_rowid_seq WHERE id = 1").fetchone()
    return int(r[0]) if r else 0


def last_deletion(conn: sqlite3.Connection) -> int:
    r = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'memory_deletions'").fetchone()
    return int(r[0]) if r else 0


def prune_deletions(conn: sqlite3.Connection, keep: int) -> int:
    """Keep the newest `keep` deletion entries (processes further behind reload)."""
    return conn.execute(
        "DELETE FROM memory_deletions WHERE seq <= (SELECT coalesce(max(seq), 0) FROM memory_deletions) - ?",
        (keep,),
    ).rowcount


def fts_set_secure_delete(conn: sqlite3.Connection) -> None:
    """Switch FTS5 'secure-delete' on for memories_fts (SQLite >= 3.42; persistent, and it
    makes the index unreadable to SQLite < 3.42: memoryd.db.driver picks the bundled one)."""
    conn.execute("INSERT INTO memories_fts(memories_fts, rank) VALUES ('secure-delete', 1)")


def count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM memories").fetchone()[0]


def counts_by(conn: sqlite3.Connection, column: str) -> dict[str, int]:
    if column not in {"namespace", "agent_id", "kind"}:
        raise ValueError(column)
    q = f"SELECT {column}, count(*) FROM memories GROUP BY {column} ORDER BY 2 DESC"
    return {r[0]: r[1] for r in conn.execute(q)}


# ---- full-text ---------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    "a an and are as at be but by can do does for from had has have how i if in into is it its"
    " me my no not of on or our so than that the their them then there these they this to us"
    " was we were what when where which who why will with would you your".split()
)
MAX_QUERY_TERMS = 24


def fts_query(text: str) -> str | None:
    """Turn arbitrary user/agent text into a safe FTS5 MATCH expression.

    Every token is wrapped in double quotes (a phrase of one word), so FTS5 operators
    (AND/OR/NOT/NEAR), column filters, `*`, `^`, parentheses and quotes in the input are
    plain text. Stop words are dropped unless nothing else is left. Returns None when the
    text has no searchable token."""
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    if not tokens:
        return None
    kept = [t for t in tokens if t not in _STOP] or tokens
    seen: dict[str, None] = {}
    for t in kept:
        seen.setdefault(t, None)
    terms = list(seen)[:MAX_QUERY_TERMS]
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def fts_search(
    conn: sqlite3.Connection, text: str, limit: int, filters: SearchFilters | None = None
) -> list[tuple[int, float]]:
    """BM25 ranked (rowid, bm25) pairs; lower bm25 is better (FTS5 convention)."""
    match = fts_query(text)
    if match is None:
        return []
    if filters is None or filters.is_empty():
        q = "SELECT rowid, rank FROM memories_fts WHERE memories_fts MATCH ? ORDER BY rank LIMIT ?"
        return [(r[0], r[1]) for r in conn.execute(q, (match, limit))]
    where, params = _where(filters)
    q = (
        "SELECT f.rowid, f.rank FROM memories_fts f JOIN memories m ON m.rowid = f.rowid"
        f" WHERE memories_fts MATCH ? AND {where} ORDER BY f.rank LIMIT ?"
    )
    return [(r[0], r[1]) for r in conn.execute(q, (match, *params, limit))]


def fts_integrity_check(conn: sqlite3.Connection) -> None:
    """Raises StoreCorrupt (db/connection.py maps SQLITE_CORRUPT_VTAB) if the index disagrees
    with the memories table."""
    conn.execute("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")


def meta_get(conn: sqlite3.Connection, key: str) -> str | None:
    r = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return r[0] if r else None


def meta_set(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


# ---- supersede links (migration 0009) ----------------------------------------------------
def supersede(conn: sqlite3.Connection, old_rowid: int, new_rowid: int, now: float) -> None:
    conn.execute(
        "INSERT INTO memory_supersedes(old_rowid, new_rowid, created_at) VALUES (?, ?, ?)",
        (old_rowid, new_rowid, now),
    )


def superseded_among(conn: sqlite3.Connection, rowids: Sequence[int]) -> set[int]:
    """The rowids among these that a newer version replaced (they stay out of search)."""
    ids = list(rowids)
    out: set[int] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        q = f"SELECT old_rowid FROM memory_supersedes WHERE old_rowid IN ({','.join('?' * len(chunk))})"
        out.update(int(r[0]) for r in conn.execute(q, chunk))
    return out


def superseded_by(conn: sqlite3.Connection, old_rowid: int) -> str | None:
    """Public id of the memory that replaced this one, if any."""
    r = conn.execute(
        "SELECT m.id FROM memory_supersedes s JOIN memories m ON m.rowid = s.new_rowid WHERE s.old_rowid = ?",
        (old_rowid,),
    ).fetchone()
    return str(r[0]) if r else None


def version_links(conn: sqlite3.Connection, rowids: Iterable[int]) -> set[tuple[int, int]]:
    """Every (old_rowid, new_rowid) link of the version chains these rowids belong to,
    followed both ways to the ends (the erasure planner takes a memory's earlier versions)."""
    links: set[tuple[int, int]] = set()
    seen: set[int] = set()
    frontier = set(rowids)
    while frontier:
        seen |= frontier
        ids = sorted(frontier)
        frontier = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            q = (f"SELECT old_rowid, new_rowid FROM memory_supersedes"
                 f" WHERE old_rowid IN ({marks}) OR new_rowid IN ({marks})")
            for old, new in conn.execute(q, [*chunk, *chunk]):
                links.add((int(old), int(new)))
                frontier |= {int(old), int(new)} - seen
    return links
