"""Issue 15: erasure without gaps. Every test reads the raw bytes of the files memoryd owns.

  - a subject named only in metadata (source, tag, session, feedback note) is found and erased
    (or redacted), through the real CLI in a subprocess;
  - `forget` leaves no byte of the memory (bundled SQLite with FTS5 secure-delete, and the
    interpreter's SQLite with an index merge);
  - a short memory ("Bo Li: 555-1234") left over somewhere is caught by the forensic scan;
  - a reader blocking the WAL checkpoint leaves the request pending and incomplete, never
    verified, until the running process's retry finishes it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from erasure_helpers import raw_hits, seed

from memoryd.db import driver
from memoryd.erasure.models import ErasureRequest
from memoryd.models import NewMemory, Provenance

PY_CLI = "import sys; from memoryd.cli import main; sys.argv[0] = 'memoryd'; main()"


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEMORYD_HOME": str(home)}
    env.pop("MEMORYD_DB", None)
    return subprocess.run([sys.executable, "-c", PY_CLI, *args], env=env, capture_output=True, text=True,
                          timeout=300)


def _all_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file()).lower()


def test_subject_only_in_metadata_is_erased_through_the_cli(tmp_path):
    home = tmp_path / "home"
    add = _cli(home, "add", "prefers dark mode in the editor", "--source", "mail from alice.novak@example.com",
               "-t", "alice-novak", "--json")
    assert add.returncode == 0, add.stderr
    mid = json.loads(add.stdout)["id"]
    keep = _cli(home, "add", "the staging cluster restarts nightly at 02:00", "--json")
    assert keep.returncode == 0, keep.stderr
    dry = _cli(home, "erase", "-s", "alice.novak@example.com", "-s", "Alice Novak", "--json")
    assert [i["memory_id"] for i in json.loads(dry.stdout)["items"]] == [mid]
    assert {"source", "tag"} <= set(json.loads(dry.stdout)["items"][0]["fields"])
    done = _cli(home, "erase", "-s", "alice.novak@example.com", "-s", "Alice Novak", "--yes", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    r = json.loads(done.stdout)
    assert r["status"] == "verified" and r["counts"]["memories"] == 1
    assert _cli(home, "show", mid).returncode != 0
    blob = _all_bytes(home)
    for needle in (b"alice.novak@example.com", b"alice-novak", b"alice novak", b"dark mode in the editor"):
        assert needle not in blob, needle
    assert b"staging cluster restarts nightly" in blob  # the other memory is still there, in clear


def test_metadata_hits_can_be_redacted_and_subject_export_sees_them(app, settings):
    prov = Provenance(agent_id="tester", source="call notes from Alice Novak", session_id="sess-anovak-7781")
    kept = app.memories.remember(NewMemory("quarterly budget review moved to Thursday", tags=("alice-novak", "budget"),
                                           provenance=prov)).memory
    other = app.memories.remember(NewMemory("the build farm uses sixteen runners")).memory
    app.feedback.record(other.id, "useful", agent_id="tester", note="confirmed with Alice Novak by phone")
    export = app.erasure.subject_export(["Alice Novak"])
    assert {m["id"] for m in export["memories"]} == {kept.id, other.id}  # Art. 15 sees every field
    plan = app.erasure.plan(ErasureRequest(subjects=("Alice Novak",), field_hits="redact"))
    assert plan.items == ()
    assert {i.memory_id for i in plan.redactions} == {kept.id, other.id}
    assert {f for i in plan.redactions for f, _ in i.fields} == {"source", "session_id", "tag", "feedback"}
    r = app.erasure.execute(plan, confirm=True)
    assert r.ok and r.body["status"] == "verified"
    assert r.body["counts"]["memories"] == 0 and r.body["counts"]["memories_redacted"] == 2
    m = app.memories.get(kept.id)
    assert m.content == kept.content and m.tags == ("budget",)
    assert m.provenance.source is None and m.provenance.session_id is None
    low = b"".join(p.read_bytes() for p in Path(settings.home).rglob("*") if p.is_file()).lower()
    for needle in (b"alice novak", b"alice-novak", b"anovak-7781", b"confirmed with alice"):
        assert needle not in low, needle
    assert b"quarterly budget review" in low
    # the default erases the memory instead
    plan2 = app.erasure.plan(ErasureRequest(subjects=("sess-anovak-7781",)))
    assert plan2.items == () and plan2.redactions == ()


FORGET_SCRIPT = """
import json, sys
from pathlib import Path
from memoryd.config import Settings
from memoryd.app import App
from memoryd.bench.corpus import make_corpus  # the public corpus module (a child process: no tests/ on its path)
from memoryd.models import NewMemory
from memoryd.db import driver
home = Path(sys.argv[1])
app = App(Settings.load(home=home, db=home / "memoryd.db", env={}))
docs = [d.text for d in make_corpus(300, 0, 1).docs]
app.memories.remember_many([NewMemory(t) for t in docs])
secret = [f"Quarvex{i}zed owes Bo Li: 555-12{i:02d}" for i in range(10)]
ids = [r.memory.id for r in app.memories.remember_many([NewMemory(t) for t in secret])]
app.memories.remember_many([NewMemory(t + " (again)") for t in docs[:100]])  # later segments
app.memories.forget_many(ids[:5])
for i in ids[5:]:
    app.memories.forget(i)
app.close()
print(json.dumps({"module": driver.NAME, "secure_delete": driver.FTS_SECURE_DELETE}))
"""


@pytest.mark.parametrize("module", ["default", "stdlib"])
def test_forget_leaves_no_byte_on_disk(tmp_path, module):
    env = {**os.environ}
    if module == "stdlib":
        env["MEMORYD_SQLITE"] = "stdlib"
    home = tmp_path / "home"
    p = subprocess.run([sys.executable, "-c", FORGET_SCRIPT, str(home)], env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout.strip().splitlines()[-1])
    assert info["module"] == ("stdlib" if module == "stdlib" else driver.NAME)
    blob = _all_bytes(home)
    for i in range(10):
        assert f"quarvex{i}zed".encode() not in blob
        assert f"555-12{i:02d}".encode() not in blob
    assert b"(again)" in blob


def test_a_short_memory_left_in_a_copy_is_caught(app, settings):
    short = app.memories.remember(NewMemory("Bo Li: 555-1234")).memory
    app.memories.remember(NewMemory("Li Wei reviews the Q3 roadmap"))
    app.memories.scrub_after_delete()  # everything in the main file
    copy = Path(str(settings.db_path) + ".bak")
    shutil.copyfile(settings.db_path, copy)  # a backup someone made: it holds the text
    r = app.erasure.execute(ErasureRequest(memory_ids=(short.id,)), confirm=True)
    assert not r.ok and r.body["status"] == "incomplete"
    per_file = {f["file"]: f for f in r.body["verification"]["content_scan"]["per_file"]}
    assert per_file["db-copy"]["by_kind"].get("content", 0) >= 1
    assert per_file["db"]["hits"] == 0
    assert [x["status"] for x in app.erasure.receipts()] == ["incomplete"]
    copy.unlink()
    done = app.erasure.resume_pending()
    assert [x.body["status"] for x in done] == ["verified"]
    assert raw_hits(settings, ["Bo Li: 555-1234"]) == {}


def test_a_reader_blocking_the_checkpoint_leaves_the_erasure_pending_until_retried(app, settings, monkeypatch):
    import memoryd.services.erasure.retry as es

    monkeypatch.setattr(es, "RETRY_DELAYS_S", (0.3, 0.3, 0.5, 1.0, 1.0, 2.0, 2.0, 5.0))
    s = seed(app, corpus=10)
    reader = driver.sqlite3.connect(str(settings.db_path), isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM memories").fetchone()  # holds a snapshot: the WAL cannot be reset
    try:
        r = app.erasure.execute(ErasureRequest(subjects=("Alice Novak",)), confirm=True)
        assert r.body["status"] == "incomplete" and not r.ok and r.seq == 0
        assert r.body["cleanup"]["wal_truncated"] is False
        listed = app.erasure.receipts()
        assert [x["status"] for x in listed] == ["incomplete"] and listed[0]["verified"] is False
        assert app.memories.list(limit=100) and all(m.id not in s.alice for m in app.memories.list(limit=100))
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    deadline = time.time() + 30
    while time.time() < deadline and app.erasure.has_pending():
        time.sleep(0.2)
    listed = app.erasure.receipts()
    assert [x["status"] for x in listed] == ["verified"], listed
    assert app.erasure.receipt(r.id).body["verification"]["content_scan"]["performed"] is True
    from erasure_helpers import ALICE

    assert raw_hits(settings, ALICE + ["Zyxquor", "Quillotine", "Glimmerstack"]) == {}


def test_graph_export_and_plot_are_registered_and_cleaned_by_erasure(app, settings, tmp_path):
    s = seed(app, corpus=40)
    app.graph.rebuild()
    out = tmp_path / "outside" / "graph.json"
    out.parent.mkdir()
    app.erasure.track_file(out, "graph-json", lambda: app.graph.export(out, "json"))
    plot = tmp_path / "outside" / "graph.png"
    app.erasure.track_file(plot, "plot", lambda: app.graph.plot(plot, max_labels=12))
    assert all(i.encode() in out.read_bytes() for i in s.alice) and plot.exists()
    r = app.erasure.execute(ErasureRequest(subjects=("Alice Novak",)), confirm=True)
    assert r.ok
    actions = {f["file"]: f["action"] for f in r.body["cleanup"]["files"]}
    assert actions == {"graph-export": "rewritten", "graph-plot": "shredded"}
    raw = out.read_bytes()
    assert not any(i.encode() in raw for i in s.alice)
    assert all(i.encode() in raw for i in s.other)  # the rest of the graph is still there
    doc = json.loads(raw)
    assert {n["id"] for n in doc["nodes"]} & set(s.alice) == set()
    assert not plot.exists()
    assert "graph-export" in r.to_text()


@pytest.mark.skipif(not driver.FTS_SECURE_DELETE, reason="needs the bundled SQLite (pysqlite3-binary)")
def test_an_old_sqlite_refuses_a_secure_delete_index_with_a_clear_error(app, settings):
    ids = [r.memory.id for r in app.memories.remember_many([NewMemory(f"rotate key {i} on Friday") for i in range(3)])]
    app.memories.forget(ids[0])  # FTS5 secure-delete: the index is now format 5
    code = ("import sys; from pathlib import Path; from memoryd.db import connect\n"
            "try:\n    connect(Path(sys.argv[1]))\nexcept Exception as e:\n    print(type(e).__name__, e)")
    p = subprocess.run([sys.executable, "-c", code, str(settings.db_path)], capture_output=True, text=True,
                       env={**os.environ, "MEMORYD_SQLITE": "stdlib"}, timeout=120)
    assert "StoreError" in p.stdout and "pysqlite3-binary" in p.stdout, p.stdout + p.stderr
