"""SQLite failures after a store is open (a read-only file or directory, a full disk, a damaged
page) leave db/ as errors of the one tree (StoreReadOnly, StoreFull, StoreCorrupt): the real
CLI prints one line (JSON with --json), exits 3, and nothing half-written stays behind."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from memoryd.app import App
from memoryd.errors import StoreError, StoreFull
from memoryd.models import NewMemory, Provenance
from memoryd.services.memories import SearchOptions

MEMORYD = str(Path(sys.executable).parent / "memoryd")


def _unprivileged() -> list[str]:
    """A prefix that makes permissions bite: root ignores them, so drop the capabilities that
    let it (setpriv, util-linux); a normal user needs nothing."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file permissions cannot be tested")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def cli(db: Path, *args: str, prefix: list[str] = (), timeout: int = 120, home: Path | None = None
        ) -> subprocess.CompletedProcess:
    """memoryd on `db`, its home `home` (default: next to the database)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYD_")}
    env["MEMORYD_HOME"] = str(home or db.parent / "home")
    return subprocess.run([*prefix, MEMORYD, "--db", str(db), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def _consistent(db: Path, memories: int) -> None:
    st = cli(db, "stats", "--json")
    assert st.returncode == 0, st.stderr
    stats = json.loads(st.stdout)
    assert stats["memories"] == memories and stats["vectors"] == memories
    found = cli(db, "search", "kept", "--json")
    assert found.returncode == 0, found.stderr
    assert len(json.loads(found.stdout)) == memories


def _one_clean_line(res: subprocess.CompletedProcess, *words: str) -> None:
    assert res.returncode == 3, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture
def store(tmp_path) -> Path:
    db = tmp_path / "s" / "m.db"
    assert cli(db, "add", "the kept memory about sailing").returncode == 0
    return db


def test_a_read_only_database_file_refuses_writes_cleanly_and_still_answers_reads(store):
    pre = _unprivileged()
    store.chmod(0o444)
    try:
        res = cli(store, "add", "a kept memory that cannot be written", prefix=pre)
        _one_clean_line(res, "read-only", str(store))
        err = cli(store, "add", "a kept memory that cannot be written", "--json", prefix=pre)
        assert err.returncode == 3 and err.stdout == ""
        body = json.loads(err.stderr)
        assert body["error"]["type"] == "StoreReadOnly" and body["error"]["exit_code"] == 3
        assert "read-only" in body["error"]["message"]
        reads = cli(store, "stats", "--json", prefix=pre)  # reading a read-only store works
        assert reads.returncode == 0 and "Traceback" not in reads.stderr, reads.stderr
        assert json.loads(reads.stdout)["memories"] == 1
    finally:
        store.chmod(0o600)
    _consistent(store, 1)


def test_a_read_only_directory_refuses_writes_cleanly(store):
    pre = _unprivileged()
    assert cli(store, "stats").returncode == 0  # last connection closed: no -wal/-shm left
    store.parent.chmod(0o555)
    store.chmod(0o444)
    try:
        res = cli(store, "add", "a kept memory that cannot be written", prefix=pre)
        assert res.returncode == 3 and "Traceback" not in res.stderr, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and str(store) in res.stderr
    finally:
        store.parent.chmod(0o700)
        store.chmod(0o600)
    _consistent(store, 1)


def test_a_full_disk_is_store_full_and_rolls_back_row_fts_and_vectors(settings, embedder):
    with App(settings, embedder=embedder) as app:
        app.memories.remember(NewMemory("the kept memory about sailing", provenance=Provenance(agent_id="t")))
        pages = app.conn.execute("PRAGMA page_count").fetchone()[0]
        app.conn.execute(f"PRAGMA max_page_count={pages + 2}")  # the disk is full two pages on
        batch = [NewMemory(f"kept memory number {i} " + "word " * 400, provenance=Provenance(agent_id="t"))
                 for i in range(40)]
        with pytest.raises(StoreFull, match="full"):
            app.memories.remember_many(batch)
        assert not app.conn.in_transaction
        assert isinstance(StoreFull("x"), StoreError)
        app.conn.execute("PRAGMA max_page_count=1073741823")
        hits = app.memories.search("kept memory number", opts=SearchOptions(limit=50))
        assert len(hits) == 1  # the in-process indexes agree with the rollback
    with App(settings, embedder=embedder) as app:
        counts = [app.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("memories", "embeddings", "memories_fts")]
        assert counts == [1, 1, 1]


def test_a_damaged_page_is_store_corrupt_not_a_traceback(tmp_path):
    db = tmp_path / "c" / "m.db"
    lines = "".join(json.dumps({"content": f"kept memory {i} about topic {i % 7} alpha{i}"}) + "\n" for i in range(200))
    (tmp_path / "in.jsonl").write_text(lines)
    assert cli(db, "add", "--jsonl", str(tmp_path / "in.jsonl")).returncode == 0
    size = db.stat().st_size
    with db.open("r+b") as f:  # overwrite pages in the middle: the header still says all is well
        f.seek(size // 2)
        f.write(b"\xff" * 8192)
    for args in (["stats"], ["search", "topic"], ["add", "one more"]):
        res = cli(db, *args)
        _one_clean_line(res, "damaged", "doctor")


def test_paths_that_are_not_what_they_seem_are_named_for_what_they_are(tmp_path):
    a_dir = tmp_path / "adir.db"
    a_dir.mkdir()
    a_file = tmp_path / "afile"
    a_file.write_text("not a folder")
    for db, args, words in ((a_dir, ["add", "x"], ["is a directory"]), (a_dir, ["stats"], ["is a directory"]),
                            (a_file / "m.db", ["add", "x"], ["is a file, not a directory"]),
                            (a_file / "m.db", ["stats"], ["is a file, not a directory"])):
        res = cli(db, *args)
        _one_clean_line(res, str(db), *words)
    assert a_file.read_text() == "not a folder" and not any(a_dir.iterdir())


def test_an_export_to_a_full_stdout_is_one_line_not_a_traceback(store):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYD_")}
    env["MEMORYD_HOME"] = str(store.parent / "home")
    with open("/dev/full", "w") as full:
        res = subprocess.run([MEMORYD, "--db", str(store), "export"], stdout=full, stderr=subprocess.PIPE,
                             text=True, timeout=120, env=env)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines() == [res.stderr.strip()] and "No space left" in res.stderr
    # a reader that stops early (`| head -1`) is not an error worth a message
    proc = subprocess.Popen([MEMORYD, "--db", str(store), "export"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    proc.stdout.close()
    assert "Traceback" not in proc.stderr.read().decode()
    proc.wait(timeout=120)


def test_doctor_on_a_read_only_store_says_so_instead_of_failing_the_index_check(store):
    pre = _unprivileged()
    store.chmod(0o444)
    try:
        res = cli(store, "doctor", "--json", prefix=pre)
    finally:
        store.chmod(0o600)
    assert "Traceback" not in res.stderr, res.stderr
    checks = {c["check"]: c for c in json.loads(res.stdout)["checks"]}
    assert checks["fts5"]["ok"] and "read-only" in checks["fts5"]["detail"]
    w = checks["writable"]
    assert not w["ok"] and w["level"] == "warning" and "read-only" in w["detail"]
    assert res.returncode == 0  # reading works: a warning, not a failure
    ok = {c["check"]: c for c in json.loads(cli(store, "doctor", "--json").stdout)["checks"]}
    assert ok["writable"]["ok"] and ok["fts5"]["detail"] == "integrity-check passed"


def test_another_applications_sqlite_database_is_refused_and_left_untouched(tmp_path):
    """`--db` pointing at some other program's SQLite file (a browser history, a typo'd path
    that exists): memoryd must not switch it to WAL nor add its 30 tables to it."""
    from memoryd.db.driver import sqlite3

    db = tmp_path / "places.sqlite"
    c = sqlite3.connect(db)
    c.execute("CREATE TABLE places (id INTEGER PRIMARY KEY, url TEXT)")
    c.execute("INSERT INTO places (url) VALUES ('https://example.org')")
    c.commit()
    c.close()
    before = db.read_bytes()
    for args in (["stats"], ["add", "x"], ["doctor"]):
        res = cli(db, *args)
        _one_clean_line(res, str(db), "not a memoryd store", "places")
    err = json.loads(cli(db, "stats", "--json").stderr)["error"]
    assert err["type"] == "ForeignDatabase" and err["exit_code"] == 3
    assert db.read_bytes() == before
    c = sqlite3.connect(db)
    assert [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["places"]
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    c.close()


def test_a_directory_this_user_cannot_enter_is_one_line(store):
    pre = _unprivileged()
    store.parent.chmod(0o000)
    try:
        for args in (["stats"], ["add", "x"]):
            res = cli(store, *args, prefix=pre)
            _one_clean_line(res, str(store), "ermission denied")
    finally:
        store.parent.chmod(0o700)
    _consistent(store, 1)
