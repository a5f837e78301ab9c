"""In-RAM indexes stay coherent with the database across processes (here: two Apps, two
connections on one file): rowids are never reused, deletions made elsewhere leave the
indexes before an answer, and every hit is re-checked against the stored row."""

from __future__ import annotations

from memoryd.db.driver import sqlite3  # the same SQLite library as memoryd: two copies in one process break locking

import pytest

import memoryd.services.memories.writes as msvc
from memoryd.app import App
from memoryd.models import NewMemory, SearchFilters

OLD = "The gateway certificate rotates every Tuesday at noon"
NEW = "The gateway certificate passphrase is hunter2-quokka"


@pytest.fixture
def other(settings, embedder, app):
    """A second process's view of the same database file."""
    b = App(settings, embedder=embedder)
    yield b
    b.close()


def _ids(app, query, filters=SearchFilters()):
    return [h.memory.id for h in app.memories.search(query, filters)]


def test_forget_then_private_write_elsewhere_never_answers_for_the_old_row(app, other):
    old = app.memories.remember(NewMemory(OLD)).memory
    assert _ids(other, "gateway certificate Tuesday")[0] == old.id  # loaded in the other process
    app.memories.forget(old.id)
    new = app.memories.remember(NewMemory(NEW, namespace="secret")).memory
    assert new.rowid > old.rowid  # never reused, even for the newest row
    outside = SearchFilters(exclude_namespaces=("secret",))
    for q in ("gateway certificate Tuesday", "gateway certificate passphrase", "Tuesday noon"):
        assert not {old.id, new.id} & set(_ids(other, q, outside))
    assert old.rowid not in other.memories.index and new.rowid in other.memories.index
    assert _ids(other, "gateway certificate passphrase")[0] == new.id


def test_a_process_behind_the_pruned_deletion_log_reloads(app, other, monkeypatch):
    mems = [app.memories.remember(NewMemory(f"Service {i} listens on port {9000 + i}")).memory for i in range(4)]
    assert len(other.memories.index) == 4
    monkeypatch.setattr(msvc, "DELETION_LOG_KEEP", 1)
    for m in mems[:3]:
        app.memories.forget(m.id)
    assert sorted(other.memories.index.rowids().tolist()) == [mems[3].rowid]
    assert _ids(other, "which port does service 1 listen on") == [mems[3].id]


def test_a_stale_index_costs_recall_never_privacy(app, other, settings):
    m = app.memories.remember(NewMemory("The staging database password is in the vault")).memory
    assert _ids(other, "staging database password") == [m.id]
    raw = sqlite3.connect(settings.db_path)  # a change no index was told about
    with raw:
        raw.execute("UPDATE memories SET namespace = 'secret' WHERE rowid = ?", (m.rowid,))
        raw.execute("DELETE FROM memory_deletions")  # and no log entry either
    raw.close()
    other.memories.indexes.data_version = None  # force a sync that finds nothing to patch
    assert _ids(other, "staging database password", SearchFilters(exclude_namespaces=("secret",))) == []
