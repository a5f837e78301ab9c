"""The graph tables (migration 0003): cascades and triggers keep them exact however a
memory row goes; no entity text is stored."""

from __future__ import annotations

from memoryd.db.driver import sqlite3  # the same SQLite library as memoryd (see its docstring)

from memoryd.config import Settings
from memoryd.db import connect, migrate, transaction
from memoryd.models import NewMemory
from memoryd.store import graph as gstore
from memoryd.store import memories as mstore


def _db(tmp_path) -> sqlite3.Connection:
    conn = connect(tmp_path / "g.db")
    migrate(conn, Settings.load(home=tmp_path, env={}).migrations_dir)
    return conn


def _mem(conn, i: int) -> int:
    return mstore.insert_memory(conn, f"01TEST{i:020d}", NewMemory(f"memory number {i}"), f"h{i}", 1.0)


def test_mentions_keep_entity_counts_and_cascade(tmp_path):
    conn = _db(tmp_path)
    with transaction(conn):
        a, b = _mem(conn, 1), _mem(conn, 2)
        gstore.add_mentions(conn, [(a, 11, "code"), (b, 11, "code"), (a, 12, "path")])
        gstore.add_mentions(conn, [(a, 11, "code")])  # repeated: ignored
    assert gstore.entity_counts(conn, [11, 12, 13]) == {11: 2, 12: 1}
    assert gstore.entity_members(conn, [11, 12], max_members=1) == {12: [a]}
    with transaction(conn):
        mstore.delete_by_rowids(conn, [a])
    assert gstore.entity_counts(conn, [11, 12]) == {11: 1}  # 12 was only a's: gone
    assert gstore.mentions_of(conn, [a, b]) == {b: [11]}
    assert gstore.entity_stats(conn) == {"code": 1}


def test_links_are_undirected_and_cascade(tmp_path):
    conn = _db(tmp_path)
    with transaction(conn):
        a, b, c = _mem(conn, 1), _mem(conn, 2), _mem(conn, 3)
        gstore.add_links(conn, [(b, a, 0.6), (a, b, 0.7), (b, c, 0.55)])
    assert gstore.links_of(conn, [a, b]) == {a: [(b, 0.7)], b: [(c, 0.55), (a, 0.7)]}
    with transaction(conn):
        mstore.delete_by_rowids(conn, [b])
    assert gstore.link_count(conn) == 0


def test_membership_keeps_sizes_and_blanks_labels_of_a_community_a_member_leaves(tmp_path):
    conn = _db(tmp_path)
    with transaction(conn):
        a, b, c = _mem(conn, 1), _mem(conn, 2), _mem(conn, 3)
        gstore.replace_communities(conn, {a: 0, b: 0, c: 1})
        gstore.set_labels(conn, {0: ("alpha, beta", [("alpha", 1.0), ("beta", 0.5)]), 1: ("gamma", [("gamma", 1.0)])})
    rows = {r.id: r for r in gstore.list_communities(conn)}
    assert rows[0].size == 2 and rows[0].label == "alpha, beta" and not rows[0].stale
    with transaction(conn):
        mstore.delete_by_rowids(conn, [b])
    rows = {r.id: r for r in gstore.list_communities(conn)}
    assert rows[0].size == 1 and rows[0].label == "" and rows[0].terms == [] and rows[0].stale
    assert rows[1].label == "gamma"
    with transaction(conn):
        gstore.set_membership(conn, [(c, 0)])  # moving the last member empties community 1
    assert [r.id for r in gstore.list_communities(conn)] == [0]
    assert gstore.list_communities(conn)[0].size == 2
    assert gstore.unassigned_rowids(conn) == []


def test_no_entity_text_in_the_schema(tmp_path):
    conn = _db(tmp_path)
    cols = {r[1] for r in conn.execute("PRAGMA table_info(graph_entities)")}
    assert cols == {"id", "kind", "mentions"}
    assert len(gstore.state_get(conn, "entity_key") or "") == 32
