"""Derived stores plug in through ErasureHook: counted, scanned, noted in the receipt; a hook
that leaves derived text behind makes verification fail."""

from __future__ import annotations

from erasure_helpers import seed

from memoryd.erasure.hooks import ErasureHook
from memoryd.erasure.models import ErasureRequest


class SummaryStore:
    """A stand-in for a derived store (graph labels, trust evidence quoting content)."""

    name = "summaries"

    def __init__(self, conn, *, really_delete: bool = True):
        self.really_delete = really_delete
        conn.execute("CREATE TABLE IF NOT EXISTS test_summaries (memory_rowid INTEGER, label TEXT)")

    def add(self, conn, mems):
        conn.executemany("INSERT INTO test_summaries VALUES (?, ?)",
                         [(m.rowid, f"summary-{m.content.split()[1].lower()}-derivedxq") for m in mems])

    def erase_derived(self, conn, memories):
        rowids = [m.rowid for m in memories]
        if not self.really_delete:
            return {"rows": 0}
        q = f"DELETE FROM test_summaries WHERE memory_rowid IN ({','.join('?' * len(rowids))})"
        return {"rows": conn.execute(q, rowids).rowcount}

    def forensic_tokens(self, memories):
        return [f"summary-{m.content.split()[1].lower()}-derivedxq" for m in memories]

    def after_erasure(self, conn, request_id):
        return {"model_edits_scheduled": 2}


def test_hook_counts_scans_and_notes(app):
    s = seed(app, corpus=0)
    store = SummaryStore(app.conn)
    assert isinstance(store, ErasureHook)
    store.add(app.conn, [app.memories.get(i) for i in s.alice + s.ben])
    app.erasure.register_hook(store)
    r = app.erasure.execute(ErasureRequest(subjects=("Alice Novak",)), confirm=True)
    assert r.ok
    assert r.body["counts"]["summaries.rows"] == 5
    assert r.body["hooks"] == {"summaries": {"model_edits_scheduled": 2}}
    assert app.conn.execute("SELECT count(*) FROM test_summaries").fetchone()[0] == 1  # Ben's
    assert "model_edits_scheduled=2" in r.to_text()


def test_a_hook_that_leaves_derived_text_fails_verification(app):
    s = seed(app, corpus=0)
    store = SummaryStore(app.conn, really_delete=False)
    store.add(app.conn, [app.memories.get(i) for i in s.alice])
    app.erasure.register_hook(store)
    r = app.erasure.execute(ErasureRequest(subjects=("Alice Novak",)), confirm=True)
    assert not r.ok
    assert r.body["verification"]["content_scan"]["hits"] > 0
    per_file = r.body["verification"]["content_scan"]["per_file"]
    assert any(f.get("by_kind", {}).get("derived") for f in per_file)
