from memoryd.db.driver import sqlite3  # the same SQLite library as memoryd (see its docstring)

import numpy as np
import pytest

from memoryd.errors import NotFoundError, ValidationError
from memoryd.models import NewMemory, Provenance, SearchFilters
from memoryd.search.fusion import rrf_fuse
from memoryd.search.vector_index import VectorIndex
from memoryd.services.memories import SearchOptions
from memoryd.store.memories import fts_integrity_check, fts_query, fts_search

NOTES = [
    "Alice prefers tabs over spaces in the Makefile of the billing service.",
    "The staging database runs Postgres 15 behind pgbouncer on port 6432.",
    "Run pytest with -x to stop at the first failing test.",
    "Deploys to production happen through ArgoCD every Tuesday.",
    "The cache invalidation bug in orders_service was fixed by adding a version key.",
]


def _add(app, texts, **kw):
    return [r.memory for r in app.memories.remember_many([NewMemory(t, **kw) for t in texts])]


def test_remember_get_and_exact_duplicates(app):
    mems = _add(app, NOTES, tags=("dev",), namespace="proj-a")
    assert len({m.id for m in mems}) == len(NOTES)
    again = app.memories.remember(NewMemory(NOTES[0] + "  ", namespace="proj-a"))
    assert again.duplicate and again.memory.id == mems[0].id
    other_ns = app.memories.remember(NewMemory(NOTES[0], namespace="proj-b"))
    assert not other_ns.duplicate  # same text, other namespace: a separate memory
    got = app.memories.get(mems[1].id)
    assert got.content == NOTES[1] and got.tags == ("dev",) and got.namespace == "proj-a"
    assert app.stats().memories == len(NOTES) + 1
    # duplicates inside one batch are stored once
    res = app.memories.remember_many([NewMemory("same text twice"), NewMemory("same text twice")])
    assert [r.duplicate for r in res] == [False, True] and res[0].memory.id == res[1].memory.id


def test_hybrid_search_finds_paraphrase_and_keyword(app):
    _add(app, NOTES)
    hits = app.memories.search("which port does pgbouncer use?")
    assert hits[0].memory.content == NOTES[1]
    assert "bm25" in hits[0].legs and "vector" in hits[0].legs
    # a paraphrase with no shared keyword is found by meaning
    hits = app.memories.search("how do we ship releases to prod", opts=SearchOptions(limit=3))
    assert hits[0].memory.content == NOTES[3]
    assert hits[0].why


def test_filters(app):
    app.memories.remember(NewMemory("deploy notes for alpha", namespace="alpha", tags=("ops",)))
    app.memories.remember(NewMemory("deploy notes for beta", namespace="beta", tags=("ops", "eu"),
                                    provenance=Provenance(agent_id="bot")))
    ns = app.memories.search("deploy notes", SearchFilters(namespaces=("beta",)))
    assert [h.memory.namespace for h in ns] == ["beta"]
    ex = app.memories.search("deploy notes", SearchFilters(exclude_namespaces=("beta",)))
    assert [h.memory.namespace for h in ex] == ["alpha"]
    tagged = app.memories.search("deploy notes", SearchFilters(tags=("eu",)))
    assert [h.memory.namespace for h in tagged] == ["beta"]
    by_agent = app.memories.search("deploy", SearchFilters(agent_id="bot"))
    assert [h.memory.provenance.agent_id for h in by_agent] == ["bot"]
    assert app.memories.search("deploy", SearchFilters(since=2e9)) == []


HOSTILE = ['"', '""', "'", "*", "a*", "NEAR(a b", "NEAR", "AND", "OR OR", "NOT", "(((", ")", "content:x",
           "^start", "x:y:z", "'; DROP TABLE memories; --", "1=1 OR", "\\", "{a b}", "-", "+", "col : *",
           "\u0000", "🙂🙂", "a\"b", "NEAR/3", "\"unbalanced", "memories_fts MATCH 'x'"]


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_queries_never_raise(app, q):
    _add(app, NOTES[:2])
    try:
        hits = app.memories.search(q)
    except ValidationError:
        assert not q.strip() or q == "\u0000"  # only blank input is refused
        return
    assert {h.memory.content for h in hits} <= set(NOTES[:2])  # only stored memories come back
    # the BM25 leg alone must not raise either
    match = fts_query(q)
    if match is not None:
        fts_search(app.conn, q, 5)
    assert app.stats().memories == 2  # nothing was dropped


def test_forget_removes_row_fts_and_vector(app):
    mems = _add(app, NOTES)
    target = mems[0]
    gone = app.memories.forget(target.id)
    assert gone.id == target.id
    with pytest.raises(NotFoundError):
        app.memories.get(target.id)
    assert fts_search(app.conn, "tabs Makefile", 10) == []
    assert target.rowid not in app.memories.index
    assert app.conn.execute("SELECT count(*) FROM embeddings WHERE memory_rowid=?", (target.rowid,)).fetchone()[0] == 0
    fts_integrity_check(app.conn)  # index agrees with the table
    with pytest.raises(NotFoundError):
        app.memories.forget(target.id)


def test_plain_delete_on_external_content_fts_would_leave_terms(tmp_path):
    """Why the triggers use the 'delete' command: once the content row is gone (as in an
    AFTER DELETE trigger), a plain DELETE on the external-content table cannot read the
    old text and leaves its terms indexed."""
    c = sqlite3.connect(tmp_path / "x.db")
    c.executescript("""CREATE TABLE t(rowid INTEGER PRIMARY KEY, body TEXT);
        CREATE VIRTUAL TABLE f USING fts5(body, content='t', content_rowid='rowid');
        INSERT INTO t VALUES (1, 'zebra crossing'); INSERT INTO f(rowid, body) VALUES (1, 'zebra crossing');
        DELETE FROM t WHERE rowid = 1; DELETE FROM f WHERE rowid = 1;""")
    assert c.execute("SELECT count(*) FROM f WHERE f MATCH 'zebra'").fetchone()[0] == 1


def test_validation_errors_store_nothing(app):
    _add(app, ["kept memory"])
    for bad in ["", "   ", "x" * (app.settings.max_content_bytes + 1), "a\x00b", "\ud800 lone surrogate"]:
        with pytest.raises(ValidationError):
            app.memories.remember(NewMemory(bad))
    with pytest.raises(ValidationError):
        app.memories.remember_many([NewMemory("good one"), NewMemory("")])  # all or nothing
    with pytest.raises(ValidationError):
        app.memories.remember(NewMemory("ok", importance=2.0))
    with pytest.raises(ValidationError):
        app.memories.remember(NewMemory("ok", namespace="bad namespace"))
    assert [m.content for m in app.memories.list()] == ["kept memory"]


def test_index_sees_writes_from_another_process_connection(app, settings, embedder):
    from memoryd.app import App

    _add(app, ["first memory about gardening tomatoes"])
    app.memories.search("tomatoes")  # index loaded
    other = App(settings, embedder=embedder)
    try:
        m = other.memories.remember(NewMemory("second memory about repairing bicycles")).memory
        other.memories.forget(app.memories.list()[-1].id)
    finally:
        other.close()
    hits = app.memories.search("fixing a bike", opts=SearchOptions(limit=5, legs=("vector",)))
    assert [h.memory.id for h in hits] == [m.id]


def test_rrf_fusion_is_deterministic_and_rewards_agreement():
    fused = rrf_fuse({"bm25": [1, 2, 3], "vector": [3, 4, 1]})
    assert [h.rowid for h in fused][:2] == [1, 3]
    assert fused[0].ranks == {"bm25": 1, "vector": 3}
    assert rrf_fuse({"a": []}) == []


def test_vector_index_shortlist_matches_exact_and_swap_remove():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((50, 64)).astype(np.float32)
    X = centers[rng.integers(0, 50, 3000)] + 0.3 * rng.standard_normal((3000, 64)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    idx = VectorIndex(64, exact_below=0, shortlist=300)
    idx.add(list(range(1, 3001)), X, ["a"] * 1500 + ["b"] * 1500)
    q = X[10]
    fast = [h.rowid for h in idx.search(q, 10)]
    exact = [h.rowid for h in idx.search(q, 10, exact=True)]
    assert fast[0] == 11 and len(set(fast) & set(exact)) >= 9
    mask = idx.namespace_mask(("b",))
    assert all(h.rowid > 1500 for h in idx.search(q, 10, mask))
    assert idx.remove([11, 99999]) == 1
    assert 11 not in [h.rowid for h in idx.search(q, 10)]
    assert len(idx) == 2999 and idx.vector(3000) is not None
    np.testing.assert_array_equal(idx._mat[2999], 0)  # freed slot zeroed


def test_relative_score_fusion_keeps_a_confident_legs_margin():
    from memoryd.search.fusion import relative_score_fuse

    legs = {"bm25": [(1, 30.0), (2, 5.0), (3, 4.0)], "vector": [(2, 0.62), (3, 0.619), (1, 0.615), (4, 0.30)]}
    fused = relative_score_fuse(legs)
    # bm25 was far more certain about 1 than vector was about 2 over 1; RRF would prefer 2
    assert fused[0].rowid == 1
    assert fused[0].ranks == {"bm25": 1, "vector": 3}
    assert rrf_fuse({leg: [r for r, _ in h] for leg, h in legs.items()})[0].rowid == 2
    assert relative_score_fuse({"bm25": []}) == []


def test_vector_index_search_many_matches_search():
    import numpy as np

    from memoryd.search.vector_index import VectorIndex

    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((500, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ix = VectorIndex(16)
    ix.add(list(range(1, 501)), vecs, ["a" if i % 2 else "b" for i in range(500)])
    qs = vecs[:7] + 0.1 * rng.standard_normal((7, 16)).astype(np.float32)
    mask = ix.namespace_mask(None, ("b",))
    many = ix.search_many(qs, 5, mask)
    assert [[h.rowid for h in hits] for hits in many] == [[h.rowid for h in ix.search(q, 5, mask)] for q in qs]
    # above exact_below, search() uses the binary shortlist; search_many stays exact, in blocks
    big = VectorIndex(16, exact_below=100)
    big.add(list(range(1, 501)), vecs, ["a" if i % 2 else "b" for i in range(500)])
    many = big.search_many(qs, 5, big.namespace_mask(None, ("b",)), block=3)
    exact = [big.search(q, 5, big.namespace_mask(None, ("b",)), exact=True) for q in qs]
    assert [[(h.rowid, round(h.score, 5)) for h in hits] for hits in many] == \
        [[(h.rowid, round(h.score, 5)) for h in hits] for hits in exact]
    assert all(h.rowid % 2 == 0 for hits in many for h in hits)  # the mask held ("b", odd rowids, excluded)
    assert big.search_many(qs, 1000)[0][-1].rowid and len(big.search_many(qs, 1000)[0]) == 500
    rowids, mat = ix.arrays()
    assert len(rowids) == 500 and not mat.flags.writeable


def test_store_sql_helpers_chunk_and_guard_the_state_tables(app):
    from memoryd.store import _sql

    assert [list(c) for c in _sql.chunks(list(range(5)), 2)] == [[0, 1], [2, 3], [4]]
    assert _sql.placeholders(3) == "?,?,?"
    _sql.state_set(app.conn, "trust_state", "k", "v1")
    _sql.state_set(app.conn, "trust_state", "k", "v2")  # upsert, not a second row
    assert _sql.state_get(app.conn, "trust_state", "k") == "v2"
    assert _sql.state_get(app.conn, "graph_state", "k") is None  # one table per family
    with pytest.raises(ValueError, match="not a state table"):
        _sql.state_get(app.conn, "memories; DROP TABLE memories", "k")


def test_every_text_field_of_a_memory_is_validated(app):
    """Tags, source and session are stored text like the content: a lone surrogate (what
    Python makes of invalid UTF-8 in argv or a JSON import's escapes) or a control character
    is a ValidationError naming the field, never a UnicodeEncodeError from the driver, and
    nothing is stored."""
    from memoryd.models import Provenance

    bad = [
        NewMemory("ok one", tags=("\udced\udca0\udc80",)),
        NewMemory("ok two", tags=("a\x00b",)),
        NewMemory("ok three", tags=("bell\x07",)),
        NewMemory("ok four", provenance=Provenance(source="s\udc80")),
        NewMemory("ok five", provenance=Provenance(source="s\x00")),
        NewMemory("ok six", provenance=Provenance(session_id="s\ud800")),
    ]
    for new in bad:
        with pytest.raises(ValidationError) as err:
            app.memories.remember(new)
        assert any(w in str(err.value) for w in ("tag", "source", "session")), str(err.value)
    with pytest.raises(ValidationError):
        app.memories.set_tags(_add(app, ["retag me"])[0].id, ["x\udc80"])
    assert [m.content for m in app.memories.list()] == ["retag me"]
