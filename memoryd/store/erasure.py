"""SQL for erasure: pending requests, the export registry, candidate look-ups for subject
matching, derived-row counts, the FTS vocabulary and SQLite maintenance statements.

Functions take a connection and never commit (services own the transaction)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..db import driver
from ..db.driver import sqlite3
from . import memories as mstore
from ._sql import chunks, fts_optimize, placeholders

__all__ = [
    "PendingRequest",
    "live_names",
    "insert_request",
    "get_request",
    "pending_requests",
    "has_pending",
    "mark_deleted",
    "update_counts",
    "update_options",
    "delete_request",
    "register_export",
    "registered_exports",
    "unregister_export",
    "erasure_epoch",
    "bump_epoch",
    "fts_candidates",
    "like_candidates",
    "digit_candidates",
    "fts_token_present",
    "fts_phrase_rowids",
    "iter_ids",
    "ids_present",
    "rowids_for_agents",
    "rowids_for_namespaces",
    "cascade_counts",
    "fts_tokenizer",
    "probe_terms",
    "vocab_doc_counts",
    "term_docs",
    "ambient_words",
    "fts_secure_delete_supported",
    "fts_set_secure_delete",
    "fts_optimize",
    "wal_checkpoint_truncate",
    "vacuum",
    "page_stats",
]


@dataclass(frozen=True)
class PendingRequest:
    id: str
    created_at: float
    state: str  # 'pending' | 'deleted'
    salt: str
    scope: dict
    hashed_ids: list[str]
    counts: dict
    options: dict


def _row(r: sqlite3.Row) -> PendingRequest:
    return PendingRequest(
        id=r["id"], created_at=r["created_at"], state=r["state"], salt=r["salt"],
        scope=json.loads(r["scope"]), hashed_ids=json.loads(r["hashed_ids"]),
        counts=json.loads(r["counts"]), options=json.loads(r["options"]),
    )


# ---- pending requests ------------------------------------------------------------------------
def insert_request(
    conn: sqlite3.Connection, req_id: str, created_at: float, salt: str, scope: dict,
    hashed_ids: Sequence[str], options: dict,
) -> None:
    conn.execute(
        "INSERT INTO erasure_requests(id, created_at, state, salt, scope, hashed_ids, options)"
        " VALUES (?, ?, 'pending', ?, ?, ?, ?)",
        (req_id, created_at, salt, json.dumps(scope, sort_keys=True), json.dumps(list(hashed_ids)),
         json.dumps(options, sort_keys=True)),
    )


def get_request(conn: sqlite3.Connection, req_id: str) -> PendingRequest | None:
    r = conn.execute("SELECT * FROM erasure_requests WHERE id = ?", (req_id,)).fetchone()
    return _row(r) if r else None


def pending_requests(conn: sqlite3.Connection) -> list[PendingRequest]:
    return [_row(r) for r in conn.execute("SELECT * FROM erasure_requests ORDER BY created_at, id")]


def has_pending(conn: sqlite3.Connection) -> bool:
    try:
        return conn.execute("SELECT 1 FROM erasure_requests LIMIT 1").fetchone() is not None
    except sqlite3.OperationalError:  # older schema (before migration 0005)
        return False


def mark_deleted(conn: sqlite3.Connection, req_id: str, counts: dict) -> None:
    conn.execute(
        "UPDATE erasure_requests SET state = 'deleted', counts = ? WHERE id = ?",
        (json.dumps(counts, sort_keys=True), req_id),
    )


def update_counts(conn: sqlite3.Connection, req_id: str, counts: dict) -> None:
    conn.execute("UPDATE erasure_requests SET counts = ? WHERE id = ?", (json.dumps(counts, sort_keys=True), req_id))


def update_options(conn: sqlite3.Connection, req_id: str, options: dict) -> None:
    conn.execute("UPDATE erasure_requests SET options = ? WHERE id = ?", (json.dumps(options, sort_keys=True), req_id))


def delete_request(conn: sqlite3.Connection, req_id: str) -> int:
    return conn.execute("DELETE FROM erasure_requests WHERE id = ?", (req_id,)).rowcount


# ---- export registry and the erasure epoch -------------------------------------------------
def register_export(conn: sqlite3.Connection, path: str, fmt: str, now: float) -> None:
    conn.execute(
        "INSERT INTO export_files(path, format, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT(path) DO UPDATE SET format = excluded.format, created_at = excluded.created_at",
        (path, fmt, now),
    )


def registered_exports(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in conn.execute("SELECT path, format FROM export_files ORDER BY path")]


def unregister_export(conn: sqlite3.Connection, path: str) -> None:
    conn.execute("DELETE FROM export_files WHERE path = ?", (path,))


_EPOCH = "erasure.epoch"


def erasure_epoch(conn: sqlite3.Connection) -> int:
    """Incremented by every delete transaction of an erasure (exports compare it)."""
    try:
        r = conn.execute("SELECT value FROM meta WHERE key = ?", (_EPOCH,)).fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(r[0]) if r else 0


def bump_epoch(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, '1')"
        " ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (_EPOCH,),
    )


# ---- candidates ------------------------------------------------------------------------------
_TERM = re.compile(r"[^\W_]+", re.UNICODE)


def _quote(term: str) -> str:
    """One FTS5 string token: every operator character inside is plain text."""
    return '"' + term.replace('"', '""') + '"'


def fts_candidates(conn: sqlite3.Connection, terms: Iterable[str], limit: int = 20_000) -> list[int]:
    """Rowids of memories whose text contains any of `terms` (tokenised as the index does)."""
    toks = sorted({t.lower() for term in terms for t in _TERM.findall(term)})
    out: list[int] = []
    for i in range(0, len(toks), 64):
        match = " OR ".join(_quote(t) for t in toks[i : i + 64])
        out += [r[0] for r in conn.execute(
            "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? LIMIT ?", (match, limit))]
    return sorted(set(out))


def like_candidates(conn: sqlite3.Connection, needle: str, limit: int = 20_000) -> list[int]:
    """Rowids of memories containing `needle` (ASCII case-insensitive substring; a full scan)."""
    esc = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [r[0] for r in conn.execute(
        "SELECT rowid FROM memories WHERE content LIKE ? ESCAPE '\\' LIMIT ?", (f"%{esc}%", limit))]


def digit_candidates(conn: sqlite3.Connection, digits: str, limit: int = 20_000) -> list[int]:
    """Rowids of memories containing `digits` once spaces, dashes, dots, slashes and
    parentheses are removed (phone numbers written any way). A full scan."""
    if not digits.isdigit():
        raise ValueError("digits only")
    stripped = "content"
    for ch in " -.()/":
        stripped = f"replace({stripped}, '{ch}', '')"
    return [r[0] for r in conn.execute(
        f"SELECT rowid FROM memories WHERE instr({stripped}, ?) > 0 LIMIT ?", (digits, limit))]


def fts_token_present(conn: sqlite3.Connection, token: str) -> bool:
    """Does any memory in the index contain this word (after the index's stemming)?"""
    return conn.execute(
        "SELECT 1 FROM memories_fts WHERE memories_fts MATCH ? LIMIT 1", (_quote(token),)
    ).fetchone() is not None


def fts_phrase_rowids(conn: sqlite3.Connection, text: str, limit: int = 50) -> list[int]:
    """Rowids whose text contains the words of `text` as a phrase (first 16 words)."""
    toks = [t.lower() for t in _TERM.findall(text)][:16]
    if not toks:
        return []
    return [r[0] for r in conn.execute(
        "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? LIMIT ?", (_quote(" ".join(toks)), limit))]


def iter_ids(conn: sqlite3.Connection) -> Iterator[tuple[int, str]]:
    yield from ((r[0], r[1]) for r in conn.execute("SELECT rowid, id FROM memories"))


def ids_present(conn: sqlite3.Connection, ids: Sequence[str]) -> int:
    n = 0
    ids = list(ids)
    for chunk in chunks(ids):
        n += conn.execute(
            f"SELECT count(*) FROM memories WHERE id IN ({placeholders(len(chunk))})", chunk
        ).fetchone()[0]
    return n


def rowids_for_agents(conn: sqlite3.Connection, agents: Sequence[str]) -> list[int]:
    if not agents:
        return []
    q = f"SELECT rowid FROM memories WHERE agent_id IN ({','.join('?' * len(agents))})"
    return [r[0] for r in conn.execute(q, list(agents))]


def rowids_for_namespaces(conn: sqlite3.Connection, namespaces: Sequence[str]) -> list[int]:
    if not namespaces:
        return []
    q = f"SELECT rowid FROM memories WHERE namespace IN ({','.join('?' * len(namespaces))})"
    return [r[0] for r in conn.execute(q, list(namespaces))]


# ---- derived rows ----------------------------------------------------------------------------
def _referencing_tables(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(table, column) pairs with a foreign key to memories(rowid)."""
    out = []
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    for t in tables:
        for fk in conn.execute(f"PRAGMA foreign_key_list({_quote(t)})"):
            if fk[2] == "memories":  # (id, seq, table, from, to, ...)
                out.append((t, fk[3]))
    return out


def cascade_counts(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[str, int]:
    """Rows in every table referencing memories(rowid) (tags, embeddings, feedback, graph
    ...) that belong to `rowids`: what the cascade is about to delete."""
    out: dict[str, int] = {}
    ids = list(rowids)
    for table, col in _referencing_tables(conn):
        n = 0
        for chunk in chunks(ids):
            n += conn.execute(
                f"SELECT count(*) FROM {_quote(table)} WHERE {_quote(col)} IN ({placeholders(len(chunk))})",
                chunk,
            ).fetchone()[0]
        out[table] = n
    return out


# ---- full-text vocabulary ---------------------------------------------------------------------
_TOKENIZE = re.compile(r"tokenize\s*=\s*'([^']*)'", re.IGNORECASE)


def fts_tokenizer(conn: sqlite3.Connection) -> str:
    """The tokenizer spec of memories_fts, read from its schema ('porter unicode61 ...')."""
    r = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'memories_fts'").fetchone()
    m = _TOKENIZE.search(r[0] if r else "")
    return m.group(1) if m else "unicode61"


def probe_terms(texts: Sequence[str], tokenizer: str) -> dict[str, int]:
    """term -> number of `texts` containing it, tokenised exactly as memories_fts does
    (same tokenizer, in a private in-memory database that never touches disk)."""
    if not texts:
        return {}
    mem = sqlite3.connect(":memory:")
    try:
        tok = tokenizer.replace("'", "''")
        mem.execute(f"CREATE VIRTUAL TABLE probe USING fts5(content, tokenize='{tok}')")
        mem.executemany("INSERT INTO probe(content) VALUES (?)", [(t,) for t in texts])
        mem.execute("CREATE VIRTUAL TABLE probe_vocab USING fts5vocab(probe, 'row')")
        return {r[0]: r[1] for r in mem.execute("SELECT term, doc FROM probe_vocab")}
    finally:
        mem.close()


def vocab_doc_counts(conn: sqlite3.Connection, terms: Iterable[str]) -> dict[str, int]:
    """term -> number of documents containing it, for the given (already stemmed) terms."""
    out: dict[str, int] = {}
    ts = list(terms)
    for t in ts:
        r = conn.execute("SELECT doc FROM memories_fts_vocab WHERE term = ?", (t,)).fetchone()
        if r is not None:
            out[t] = r[0]
    return out


def term_docs(conn: sqlite3.Connection, term: str) -> list[int]:
    """Rowids the index lists for an (already stemmed) term."""
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT doc FROM memories_fts_instances WHERE term = ?", (term,))]


def live_names(conn: sqlite3.Connection) -> list[str]:
    """Whole names that live on outside memories by design: agent ids and the private
    namespaces agents own (an erased memory's namespace value is no leftover while its
    owner still claims it)."""
    out: list[str] = []
    for q in ("SELECT id FROM agents", "SELECT namespace FROM namespace_owners"):
        try:
            out += [str(r[0]) for r in conn.execute(q) if r[0]]
        except sqlite3.OperationalError:  # table absent in this schema version
            pass
    return out


def ambient_words(conn: sqlite3.Connection) -> set[str]:
    """Lower-cased words that legitimately live in the file outside memory texts: the
    schema, the metadata of surviving memories (tags, namespaces, agents, ...), agent
    names, `meta`, the audit log (receipt JSON keys) and registered export paths."""
    words: set[str] = set()

    def add(q: str) -> None:
        try:
            for row in conn.execute(q):
                for v in row:
                    if v is not None:
                        words.update(w.lower() for w in _TERM.findall(str(v)))
        except sqlite3.OperationalError:  # table absent in this schema version
            pass

    add("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")
    for col in ("namespace", "agent_id", "kind", "tool", "source", "session_id", "tags"):
        add(f"SELECT DISTINCT {col} FROM memories WHERE {col} IS NOT NULL")
    add("SELECT id FROM agents")
    add("SELECT key, value FROM meta")
    add("SELECT kind, body FROM audit_log")
    add("SELECT scope, options, counts FROM erasure_requests")  # hashes and selector kinds
    add("SELECT path FROM export_files")
    # derived stores that by design hold ids, kinds, numbers and names, never memory text:
    # the trust evidence log (JSON keys such as "details"), its state, graph state and the
    # model ledger's names, paths and metric keys
    for table in ("trust_evidence", "trust_state", "trust_agents", "graph_state", "model_versions", "model_edits"):
        add(f"SELECT * FROM {table}")
    return words


# ---- maintenance ------------------------------------------------------------------------------
def fts_secure_delete_supported() -> bool:
    """FTS5's 'secure-delete' option exists from SQLite 3.42.0."""
    return driver.FTS_SECURE_DELETE


def fts_set_secure_delete(conn: sqlite3.Connection) -> None:
    mstore.fts_set_secure_delete(conn)


def wal_checkpoint_truncate(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(busy, wal frames, frames checkpointed); busy=0 means the WAL is now empty."""
    r = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return int(r[0]), int(r[1]), int(r[2])


def vacuum(conn: sqlite3.Connection) -> None:
    conn.execute("VACUUM")


def page_stats(conn: sqlite3.Connection) -> tuple[int, int]:
    """(page_count, freelist_count)."""
    return (conn.execute("PRAGMA page_count").fetchone()[0], conn.execute("PRAGMA freelist_count").fetchone()[0])
