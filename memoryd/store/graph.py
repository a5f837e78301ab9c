"""Knowledge-graph tables (migration 0003): entity mentions (hashed), similarity links,
communities with labels, membership, bookkeeping. The only module with graph SQL.

Functions never commit; the graph service owns the transactions. Entity ids are keyed
hashes computed by the caller (no entity text is stored); triggers keep
``graph_entities.mentions`` and ``graph_communities.size`` exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ..db.driver import sqlite3
from ..db.connection import data_version as _data_version
from ..models import SearchFilters
from . import _sql
from ._sql import IN_CHUNK as _CHUNK
from ._sql import chunks as _chunks
from ._sql import placeholders as _in
from .memories import _where as _memory_where

__all__ = [
    "CommunityRow",
    "state_get",
    "state_set",
    "add_mentions",
    "mentions_of",
    "entity_counts",
    "entity_members",
    "all_mentions",
    "entity_stats",
    "add_links",
    "replace_links",
    "links_of",
    "all_links",
    "link_count",
    "communities_of",
    "set_membership",
    "all_membership",
    "unassigned_rowids",
    "members_of",
    "member_texts",
    "community_namespaces",
    "replace_communities",
    "new_community",
    "list_communities",
    "set_labels",
    "stale_communities",
    "clear_labels",
    "visible_rowids",
    "rowid_ids",
    "counts",
    "visible_sizes",
    "clear_memories",
    "clear_all_mentions",
    "iter_texts",
    "data_version",
]



# ---- bookkeeping --------------------------------------------------------------------------
def state_get(conn: sqlite3.Connection, key: str) -> str | None:
    return _sql.state_get(conn, "graph_state", key)


def state_set(conn: sqlite3.Connection, key: str, value: str) -> None:
    _sql.state_set(conn, "graph_state", key, value)


# ---- entity mentions ----------------------------------------------------------------------
def add_mentions(conn: sqlite3.Connection, rows: Iterable[tuple[int, int, str]]) -> None:
    """(memory rowid, entity id, kind) rows; an existing pair is left alone."""
    conn.executemany(
        "INSERT OR IGNORE INTO graph_mentions(memory_rowid, entity_id, kind) VALUES (?, ?, ?)", list(rows)
    )


def mentions_of(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, list[int]]:
    """memory rowid -> entity ids it mentions."""
    out: dict[int, list[int]] = {}
    for chunk in _chunks(list(rowids)):
        for r, e in conn.execute(
            f"SELECT memory_rowid, entity_id FROM graph_mentions WHERE memory_rowid IN ({_in(len(chunk))})", chunk
        ):
            out.setdefault(int(r), []).append(int(e))
    return out


def entity_counts(conn: sqlite3.Connection, entity_ids: Sequence[int]) -> dict[int, int]:
    """entity id -> number of memories mentioning it (absent: none)."""
    out: dict[int, int] = {}
    for chunk in _chunks(list(dict.fromkeys(entity_ids))):
        for e, n in conn.execute(
            f"SELECT id, mentions FROM graph_entities WHERE id IN ({_in(len(chunk))})", chunk
        ):
            out[int(e)] = int(n)
    return out


def entity_members(
    conn: sqlite3.Connection, entity_ids: Sequence[int], *, max_members: int | None = None
) -> dict[int, list[int]]:
    """entity id -> memory rowids mentioning it; entities with more than `max_members`
    mentions (hubs) are left out without reading their members."""
    ids = list(dict.fromkeys(entity_ids))
    if max_members is not None:
        counts = entity_counts(conn, ids)
        ids = [e for e in ids if 0 < counts.get(e, 0) <= max_members]
    out: dict[int, list[int]] = {}
    for chunk in _chunks(ids):
        for e, r in conn.execute(
            f"SELECT entity_id, memory_rowid FROM graph_mentions WHERE entity_id IN ({_in(len(chunk))})", chunk
        ):
            out.setdefault(int(e), []).append(int(r))
    return out


def all_mentions(conn: sqlite3.Connection) -> dict[int, list[int]]:
    """memory rowid -> entity ids, for every memory with a mention."""
    out: dict[int, list[int]] = {}
    for r, e in conn.execute("SELECT memory_rowid, entity_id FROM graph_mentions"):
        out.setdefault(r, []).append(e)
    return out


def entity_stats(conn: sqlite3.Connection) -> dict[str, int]:
    """Distinct entities per kind."""
    return {str(k): int(n) for k, n in conn.execute("SELECT kind, count(*) FROM graph_entities GROUP BY kind")}


# ---- similarity links ---------------------------------------------------------------------
def add_links(conn: sqlite3.Connection, links: Iterable[tuple[int, int, float]]) -> None:
    """Undirected links (a, b, cosine); stored as (min, max); an existing pair keeps the larger cosine."""
    rows = [(min(a, b), max(a, b), float(s)) for a, b, s in links if a != b]
    conn.executemany(
        "INSERT INTO graph_links(src, dst, similarity) VALUES (?, ?, ?) "
        "ON CONFLICT(src, dst) DO UPDATE SET similarity = max(similarity, excluded.similarity)",
        rows,
    )


def replace_links(conn: sqlite3.Connection, links: Iterable[tuple[int, int, float]]) -> dict[str, int]:
    """Make the stored links exactly these (a full rebuild), touching only the difference:
    most kNN links survive a rebuild, and deleting + re-inserting 600k rows (secure_delete
    zeroes every freed cell) costs ~10 s at 100k memories against ~1 s for the diff."""
    want = {(min(a, b), max(a, b)): float(s) for a, b, s in links if a != b}
    have = {(int(a), int(b)) for a, b in conn.execute("SELECT src, dst FROM graph_links")}  # a kept pair keeps its cosine:
    gone = sorted(have - want.keys())  # both are the dot product of the same two stored vectors
    new = sorted(want.keys() - have)
    conn.executemany("DELETE FROM graph_links WHERE src = ? AND dst = ?", gone)
    conn.executemany("INSERT INTO graph_links(src, dst, similarity) VALUES (?, ?, ?)",
                     [(a, b, want[(a, b)]) for a, b in new])
    return {"removed": len(gone), "added": len(new)}


def links_of(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, list[tuple[int, float]]]:
    """memory rowid -> [(neighbour rowid, cosine)] over both link directions."""
    out: dict[int, list[tuple[int, float]]] = {}
    for chunk in _chunks(list(rowids), _CHUNK // 2):
        q = (f"SELECT src, dst, similarity FROM graph_links WHERE src IN ({_in(len(chunk))}) "
             f"UNION ALL SELECT dst, src, similarity FROM graph_links WHERE dst IN ({_in(len(chunk))})")
        for a, b, s in conn.execute(q, [*chunk, *chunk]):
            out.setdefault(int(a), []).append((int(b), float(s)))
    return out


def all_links(conn: sqlite3.Connection) -> list[tuple[int, int, float]]:
    return [(int(a), int(b), float(s)) for a, b, s in conn.execute("SELECT src, dst, similarity FROM graph_links")]


def link_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM graph_links").fetchone()[0])


# ---- communities ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CommunityRow:
    id: int
    size: int
    label: str
    terms: list[tuple[str, float]]
    stale: bool


def communities_of(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, int]:
    """memory rowid -> community id (memories without one are absent)."""
    out: dict[int, int] = {}
    for chunk in _chunks(list(rowids)):
        for r, c in conn.execute(
            f"SELECT memory_rowid, community_id FROM graph_membership WHERE memory_rowid IN ({_in(len(chunk))})",
            chunk,
        ):
            out[int(r)] = int(c)
    return out


def new_community(conn: sqlite3.Connection) -> int:
    """A new empty community (its size grows as members are set); returns its id."""
    cur = conn.execute("INSERT INTO graph_communities(size) VALUES (0)")
    return int(cur.lastrowid)


def set_membership(conn: sqlite3.Connection, pairs: Iterable[tuple[int, int]]) -> None:
    """(memory rowid, community id): insert or move."""
    conn.executemany(
        "INSERT INTO graph_membership(memory_rowid, community_id) VALUES (?, ?) "
        "ON CONFLICT(memory_rowid) DO UPDATE SET community_id = excluded.community_id",
        list(pairs),
    )


def all_membership(conn: sqlite3.Connection) -> dict[int, int]:
    return {int(r): int(c) for r, c in conn.execute("SELECT memory_rowid, community_id FROM graph_membership")}


def unassigned_rowids(conn: sqlite3.Connection) -> list[int]:
    """Memories the graph has not processed yet (no community): written before the graph existed."""
    return [int(r[0]) for r in conn.execute(
        "SELECT m.rowid FROM memories m LEFT JOIN graph_membership g ON g.memory_rowid = m.rowid "
        "WHERE g.memory_rowid IS NULL ORDER BY m.rowid")]


def members_of(
    conn: sqlite3.Connection, community_id: int, filters: SearchFilters | None = None, limit: int | None = None
) -> list[int]:
    """Member rowids of one community (filtered, oldest first)."""
    where, params = _memory_where(filters or SearchFilters())
    q = (f"SELECT m.rowid FROM graph_membership g JOIN memories m ON m.rowid = g.memory_rowid "
         f"WHERE g.community_id = ? AND {where} ORDER BY m.rowid")
    if limit is not None:
        q += f" LIMIT {int(limit)}"
    return [int(r[0]) for r in conn.execute(q, [community_id, *params])]


def member_texts(
    conn: sqlite3.Connection, community_ids: Sequence[int] | None = None, filters: SearchFilters | None = None
) -> dict[int, list[str]]:
    """community id -> texts of its (visible) members: all communities when `community_ids` is None."""
    where, params = _memory_where(filters or SearchFilters())
    base = ("SELECT g.community_id, m.content FROM graph_membership g JOIN memories m ON m.rowid = g.memory_rowid "
            f"WHERE {where}")
    out: dict[int, list[str]] = {}
    if community_ids is None:
        for c, text in conn.execute(base, params):
            out.setdefault(int(c), []).append(str(text))
        return out
    for chunk in _chunks(list(community_ids)):
        for c, text in conn.execute(f"{base} AND g.community_id IN ({_in(len(chunk))})", [*params, *chunk]):
            out.setdefault(int(c), []).append(str(text))
    return out


def community_namespaces(conn: sqlite3.Connection, namespaces: Sequence[str]) -> set[int]:
    """Communities with at least one member in one of `namespaces`."""
    if not namespaces:
        return set()
    q = (f"SELECT DISTINCT g.community_id FROM graph_membership g JOIN memories m ON m.rowid = g.memory_rowid "
         f"WHERE m.namespace IN ({_in(len(namespaces))})")
    return {int(r[0]) for r in conn.execute(q, list(namespaces))}


def visible_sizes(conn: sqlite3.Connection, filters: SearchFilters) -> dict[int, int]:
    """community id -> members passing `filters`."""
    where, params = _memory_where(filters)
    q = (f"SELECT g.community_id, count(*) FROM graph_membership g JOIN memories m ON m.rowid = g.memory_rowid "
         f"WHERE {where} GROUP BY g.community_id")
    return {int(c): int(n) for c, n in conn.execute(q, params)}


def replace_communities(conn: sqlite3.Connection, membership: Mapping[int, int]) -> None:
    """Replace every community and membership row (a full re-cluster). Community ids are
    the clustering's (0 = largest); sizes follow by trigger; labels start stale."""
    conn.execute("DELETE FROM graph_membership")
    conn.execute("DELETE FROM graph_communities")
    conn.executemany("INSERT INTO graph_communities(id, size) VALUES (?, 0)",
                     [(c,) for c in sorted(set(membership.values()))])
    set_membership(conn, membership.items())


def list_communities(
    conn: sqlite3.Connection, limit: int | None = None, ids: Sequence[int] | None = None
) -> list[CommunityRow]:
    """Communities, largest first (ties: smaller id)."""
    q = "SELECT id, size, label, terms, stale FROM graph_communities"
    params: list = []
    if ids is not None:
        q += f" WHERE id IN ({_in(len(ids))})"
        params = list(ids)
    q += " ORDER BY size DESC, id"
    if limit is not None:
        q += f" LIMIT {int(limit)}"
    return [CommunityRow(int(i), int(s), str(lab), [(str(t), float(w)) for t, w in json.loads(terms)], bool(st))
            for i, s, lab, terms, st in conn.execute(q, params)]


def set_labels(conn: sqlite3.Connection, labels: Mapping[int, tuple[str, list[tuple[str, float]]]]) -> None:
    """community id -> (label, [(term, score)]); marks them fresh."""
    conn.executemany(
        "UPDATE graph_communities SET label = ?, terms = ?, stale = 0 WHERE id = ?",
        [(lab, json.dumps([[t, round(w, 5)] for t, w in terms]), c) for c, (lab, terms) in labels.items()],
    )


def stale_communities(conn: sqlite3.Connection) -> list[int]:
    return [int(r[0]) for r in conn.execute("SELECT id FROM graph_communities WHERE stale = 1 ORDER BY id")]


def clear_labels(conn: sqlite3.Connection, community_ids: Sequence[int]) -> None:
    for chunk in _chunks(list(community_ids)):
        conn.execute(
            f"UPDATE graph_communities SET label = '', terms = '[]', stale = 1 WHERE id IN ({_in(len(chunk))})",
            chunk)


def clear_memories(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[str, int]:
    """Delete these memories' mentions, links and membership now (erasure: before the rows
    themselves go). Triggers drop entities no one else mentions and blank labels."""
    out = {"mentions": 0, "links": 0, "memberships": 0}
    for chunk in _chunks(list(rowids), _CHUNK // 2):
        ph = _in(len(chunk))
        out["mentions"] += conn.execute(f"DELETE FROM graph_mentions WHERE memory_rowid IN ({ph})", chunk).rowcount
        out["links"] += conn.execute(f"DELETE FROM graph_links WHERE src IN ({ph}) OR dst IN ({ph})",
                                     [*chunk, *chunk]).rowcount
        out["memberships"] += conn.execute(f"DELETE FROM graph_membership WHERE memory_rowid IN ({ph})",
                                           chunk).rowcount
    return out


def clear_all_mentions(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM graph_mentions")


# ---- memories as the graph sees them ------------------------------------------------------
def visible_rowids(conn: sqlite3.Connection, rowids: Sequence[int], filters: SearchFilters) -> set[int]:
    """The subset of `rowids` that exist and pass `filters` (namespaces, exclusions, tags, ...)."""
    where, params = _memory_where(filters)
    out: set[int] = set()
    for chunk in _chunks(list(rowids)):
        q = f"SELECT m.rowid FROM memories m WHERE m.rowid IN ({_in(len(chunk))}) AND {where}"
        out.update(int(r[0]) for r in conn.execute(q, [*chunk, *params]))
    return out


def iter_texts(conn: sqlite3.Connection) -> Iterator[str]:
    """Every memory's text (label term statistics)."""
    yield from (str(r[0]) for r in conn.execute("SELECT content FROM memories"))


def data_version(conn: sqlite3.Connection) -> int:
    """Moves when another connection commits (PRAGMA data_version)."""
    return _data_version(conn)


def rowid_ids(conn: sqlite3.Connection) -> dict[int, str]:
    """memory rowid -> memory id, for every memory."""
    return {int(r): str(i) for r, i in conn.execute("SELECT rowid, id FROM memories")}


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    one = lambda q: int(conn.execute(q).fetchone()[0])  # noqa: E731
    return {
        "memories": one("SELECT count(*) FROM memories"),
        "assigned": one("SELECT count(*) FROM graph_membership"),
        "entities": one("SELECT count(*) FROM graph_entities"),
        "mentions": one("SELECT count(*) FROM graph_mentions"),
        "links": one("SELECT count(*) FROM graph_links"),
        "communities": one("SELECT count(*) FROM graph_communities"),
        "singletons": one("SELECT count(*) FROM graph_communities WHERE size = 1"),
        "stale_labels": one("SELECT count(*) FROM graph_communities WHERE stale = 1"),
    }
