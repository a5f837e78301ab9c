"""Erased canaries are gone from the raw bytes of every file memoryd owns."""

from __future__ import annotations

import json
import re

from memoryd.erasure.models import ErasureRequest
from memoryd.services.porting import export_jsonl

from erasure_helpers import ALICE, BEN, raw_hits, seed

CANARY_WORDS = ["Zyxquor", "Plumbrix", "Vandelmoor", "Quillotine", "Frobnitz", "Glimmerstack",
                "alice.novak@example.com", "anovak"]


def _fts_blocks(app) -> bytes:
    return b"".join(r[0] for r in app.conn.execute("SELECT block FROM memories_fts_data") if r[0])


def test_subject_erasure_leaves_nothing_in_files_fts_exports_or_ram(app, settings):
    s = seed(app)
    settings.exports_dir.mkdir(parents=True)
    full = settings.exports_dir / "all.jsonl"
    export_jsonl(app, full)
    subj = settings.home / "alice-access.json"
    app.erasure.subject_export(["Alice Novak"], subj)
    app.memories.search("Zyxquor offsite")  # RAM indexes loaded: they must be cleaned too
    needles = ALICE + CANARY_WORDS + s.alice
    assert set(raw_hits(settings, needles)) >= set(CANARY_WORDS[:6])  # the check can see them
    # FTS5 leaves prefix-compress terms ("zephyr" then "\x01\x06yxquor"): look for the tails
    tails = [b"xquor", b"mbrix", b"elmoor", b"llotin", b"bnitz", b"merstack"]
    assert all(t in _fts_blocks(app) for t in tails)

    receipt = app.erasure.execute(ErasureRequest(subjects=("Alice Novak",)), confirm=True)

    assert receipt.ok, receipt.body["verification"]
    assert receipt.body["counts"]["memories"] == 5
    assert raw_hits(settings, needles) == {}  # db, -wal, -shm, exports, everything under home
    assert raw_hits(settings, [w.lower() for w in CANARY_WORDS]) == {}
    # FTS shadow tables and vocabulary
    blocks = _fts_blocks(app)
    assert not [t for t in tails if t in blocks]
    for w in ("zyxquor", "plumbrix", "vandelmoor", "quillotin", "frobnitz", "glimmerstack"):
        assert app.conn.execute("SELECT count(*) FROM memories_fts_vocab WHERE term = ?", (w,)).fetchone()[0] == 0
    v = receipt.body["verification"]
    assert v["fts_vocab"]["residue"] == 0 and v["fts_vocab"]["exclusive_terms"] > 0
    assert v["fts_integrity"] == "ok" and v["content_scan"]["hits"] == 0 and v["rows_remaining"] == 0
    assert receipt.body["cleanup"]["wal_truncated"] is True
    # exports: the full export lost exactly Alice's lines; the subject export is destroyed
    ids = [json.loads(line)["id"] for line in full.read_text().splitlines()]
    assert not set(ids) & set(s.alice) and set(s.ben + s.other) <= set(ids)
    assert not subj.exists()
    assert receipt.body["counts"]["exports_rewritten"] == 1 and receipt.body["counts"]["exports_shredded"] == 1
    # RAM: no search finds it, the BM25 vocabulary forgot the words
    assert all(h.memory.id not in s.alice for h in app.memories.search("Zyxquor offsite Brno"))
    assert not app.memories.text_index.has_term("zyxquor")
    # others intact
    assert raw_hits(settings, ["Snorkelwave"])  # Ben is another person
    assert app.memories.get(s.ben[0]).content == BEN[0]


def test_receipt_holds_no_erased_content_nor_identifiers(app, settings):
    s = seed(app, corpus=5)
    r = app.erasure.execute(ErasureRequest(subjects=("alice.novak@example.com",), agents=("ops-bot",)),
                            confirm=True)
    assert r.body["counts"]["memories"] == 6
    stored = "\n".join(row[0] for row in app.conn.execute("SELECT body FROM audit_log"))
    for text in (json.dumps(r.to_dict()), r.to_text(), stored):
        low = text.lower()
        for w in [*CANARY_WORDS, "novak", "alice", "ops-bot", "+420", "601 555"]:
            assert w.lower() not in low, w
        for mid in s.alice + s.other:
            assert mid not in text
    # identifiers are there as keyed hashes only
    kinds = sorted((sel["type"], sel.get("kind")) for sel in r.body["scope"]["selectors"])
    assert kinds == [("agent", None), ("subject", "email")]
    assert all(re.fullmatch(r"[0-9a-f]{32}", h) for h in r.body["erased_ids"])
    # and the pending-request table is empty again
    assert app.conn.execute("SELECT count(*) FROM erasure_requests").fetchone()[0] == 0


def test_erase_by_ids_agent_namespace(app, settings):
    s = seed(app, corpus=6)
    n0 = app.stats().memories
    r1 = app.erasure.execute(ErasureRequest(memory_ids=(s.corpus[0], s.corpus[1])), confirm=True)
    r2 = app.erasure.execute(ErasureRequest(agents=("ops-bot",)), confirm=True)
    r3 = app.erasure.execute(ErasureRequest(namespaces=("notes",)), confirm=True)
    assert [r.body["counts"]["memories"] for r in (r1, r2, r3)] == [2, 1, 4]
    assert all(r.ok for r in (r1, r2, r3))
    assert app.stats().memories == n0 - 7
    assert app.stats().vectors == app.stats().memories
    assert [x["seq"] for x in app.erasure.receipts()] == [1, 2, 3]


def test_confirmation_is_required_and_dry_run_changes_nothing(app):
    import pytest

    from memoryd.errors import ErasureError, ValidationError

    s = seed(app, corpus=0)
    plan = app.erasure.plan(ErasureRequest(subjects=("Alice Novak",)))
    assert set(plan.memory_ids) == set(s.alice)
    with pytest.raises(ErasureError):
        app.erasure.execute(plan)
    with pytest.raises(ValidationError):
        ErasureRequest()
    assert app.stats().memories == 7
    assert app.erasure.receipts() == []


def test_request_matching_nothing_still_gets_a_receipt(app):
    seed(app, corpus=0)
    r = app.erasure.execute(ErasureRequest(subjects=("Quentin Zzyzx",)), confirm=True)
    assert r.ok and r.body["counts"]["memories"] == 0
    assert app.stats().memories == 7


def test_words_that_trust_evidence_legitimately_holds_are_not_a_false_alarm(app):
    """The trust log's JSON keys ("details", "kind", ...) live in the file by design: an
    erased memory that happens to use such a word must still verify."""
    from memoryd.models import NewMemory

    other = app.memories.remember(NewMemory(content="The CI cache is keyed by the lockfile hash")).memory
    app.feedback.record(other.id, "wrong", agent_id="bob")  # trust evidence records now in the file
    m = app.memories.remember(NewMemory(content="Rollout details for Vexlomir are in the kind wiki")).memory
    receipt = app.erasure.execute(ErasureRequest(memory_ids=(m.id,)), confirm=True)
    assert receipt.ok, receipt.body["verification"]
