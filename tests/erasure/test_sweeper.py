"""A long-running process finishes an erasure another process left pending.

`memoryd erase --yes` run (in a subprocess) while a reader holds a transaction cannot
truncate the WAL: it exits 1 INCOMPLETE and the erased text stays on disk. A running server
(the real App with a short sweep interval, `memoryd serve` over stdio, `memoryd ui`) then
finishes it on its own once the reader is gone: the receipt is sealed verified and a raw
byte scan of the database, -wal and -shm finds no trace of the erased text.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from erasure_helpers import ALICE, raw_hits, seed

from memoryd.app import App
from memoryd.db import driver

PY_CLI = "import sys; from memoryd.cli import main; sys.argv[0] = 'memoryd'; main()"
CANARIES = ALICE + ["Zyxquor", "Quillotine", "Glimmerstack"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "MEMORYD_HOME": str(home), **extra}
    env.pop("MEMORYD_DB", None)
    return env


def _db_files(settings) -> list[Path]:
    db = Path(settings.db_path)
    return [Path(str(db) + s) for s in ("", "-wal", "-shm")]


def _hits(settings) -> dict[str, int]:
    """Raw bytes of the database, its -wal and -shm (and everything else under home)."""
    return raw_hits(settings, CANARIES, extra=_db_files(settings))


def _pending_count(db: Path) -> int:
    """Read without opening an App (an App would resume the request itself at open)."""
    c = driver.sqlite3.connect(str(db), isolation_level=None)
    try:
        return c.execute("SELECT count(*) FROM erasure_requests").fetchone()[0]
    finally:
        c.close()


def _receipt_bodies(db: Path) -> list[dict]:
    c = driver.sqlite3.connect(str(db), isolation_level=None)
    try:
        return [json.loads(r[0]) for r in c.execute("SELECT body FROM audit_log WHERE kind = 'erasure_receipt' ORDER BY seq")]
    finally:
        c.close()


def _erase_while_a_reader_holds_the_wal(settings, ids: list[str]) -> None:
    """`memoryd erase --id ... --yes` in another process, with a reader holding a snapshot:
    the CLI exits 1 INCOMPLETE, the request stays pending, the text stays on disk."""
    reader = driver.sqlite3.connect(str(settings.db_path), isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM memories").fetchone()  # the WAL cannot be reset under it
    try:
        args = [a for i in ids for a in ("--id", i)]
        p = subprocess.run([sys.executable, "-c", PY_CLI, "erase", *args, "--yes"], env=_env(settings.home),
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert "INCOMPLETE" in p.stdout + p.stderr
        assert _pending_count(settings.db_path) == 1
        assert _hits(settings), "the erased text should still be on disk while the WAL is held"
    finally:
        reader.execute("ROLLBACK")
        reader.close()


def _wait_until_sealed(settings, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and _pending_count(settings.db_path):
        time.sleep(0.3)
    assert _pending_count(settings.db_path) == 0, "the running process did not finish the pending erasure"


def test_a_running_app_finishes_an_erasure_another_process_left_pending(app, settings):
    s = seed(app, corpus=10)
    app.memories.scrub_after_delete()  # the seeded text is in the main file too
    sweeper = app.start_erasure_sweeper(0.3)
    assert sweeper is not None and sweeper.running
    assert app.start_erasure_sweeper(0.3) is sweeper  # one per process
    _erase_while_a_reader_holds_the_wal(settings, s.alice)
    _wait_until_sealed(settings)
    assert _hits(settings) == {}
    [body] = _receipt_bodies(settings.db_path)
    assert body["status"] == "verified" and body["resumed"] is True and body["cleanup"]["wal_truncated"] is True
    assert [x["status"] for x in app.erasure.receipts()] == ["verified"]
    assert app.erasure.verify(body["id"]).ok
    assert sweeper.last is not None  # a sweep found it (its retries, started by that sweep, may have sealed it)
    app.close()
    assert not sweeper.running  # closing the App stops the sweep


@pytest.mark.parametrize("command", ["serve", "ui"])
def test_a_server_process_finishes_the_pending_erasure(settings, embedder, command):
    with App(settings, embedder=embedder) as a:
        s = seed(a, corpus=10)
    args = ["serve", "--agent", "tester"] if command == "serve" else ["ui", "--port", "0", "--json"]
    server = subprocess.Popen([sys.executable, "-c", PY_CLI, *args], env=_env(settings.home, MEMORYD_ERASURE_SWEEP_S="0.5"),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if command == "serve":  # answered once the App is open (so it did not resume at open)
            server.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"}}}) + "\n")
            server.stdin.flush()
            assert json.loads(server.stdout.readline())["result"]["serverInfo"]["name"] == "memoryd"
        else:
            lines = [server.stdout.readline()]
            while lines[-1] and lines[-1].rstrip() != "}":  # --json: one indented document
                lines.append(server.stdout.readline())
            assert json.loads("".join(lines))["port"] > 0  # serving
        _erase_while_a_reader_holds_the_wal(settings, s.alice)
        assert server.poll() is None
        _wait_until_sealed(settings)
        assert _hits(settings) == {}  # while the server still has the database open
        [body] = _receipt_bodies(settings.db_path)
        assert body["status"] == "verified" and body["resumed"] is True
    finally:
        if command == "serve":
            server.stdin.close()  # stdio: end of input stops the server
        else:
            server.terminate()
        try:
            rc = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    err = server.stderr.read()
    assert rc == 0 or (command == "ui" and rc in (0, -15)), err
    with App(settings, embedder=embedder) as a:
        assert [x["status"] for x in a.erasure.receipts()] == ["verified"]
        assert a.erasure.verify(body["id"]).ok
    assert _hits(settings) == {}


def test_a_sweep_skips_while_another_process_sweeps_and_leaves_a_running_erasure_alone(app, settings):
    s = seed(app, corpus=4)
    _erase_while_a_reader_holds_the_wal(settings, s.alice[:2])
    lock = Path(str(settings.db_path) + "-erasure.lock")
    sweeper = app.start_erasure_sweeper(3600)  # ticks by hand below
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # what another process's sweep holds while it resumes
        assert sweeper.sweep() is None
        assert _pending_count(settings.db_path) == 1
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert (lock.stat().st_mode & 0o777) == 0o600
    out = sweeper.sweep()
    assert out is not None and [st for _, st in out["finished"]] == ["verified"]
    assert _pending_count(settings.db_path) == 0 and sweeper.sweep() is None  # nothing left


def test_a_request_another_process_is_executing_is_left_to_it(app, settings):
    """A request recorded a moment ago and never attempted belongs to the process running it:
    the sweep's filter (settled_s) leaves it; once settled (or given up once) it is finished."""
    s = seed(app, corpus=4)
    worker = Path(__file__).with_name("crash_worker.py")
    p = subprocess.run([sys.executable, str(worker), str(settings.home), "step", "delete.committed", s.alice[0]],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode != 0  # killed itself after the delete committed: attempts 0, fresh
    assert _pending_count(settings.db_path) == 1
    assert app.erasure.resume_pending(settled_s=300) == []
    assert _pending_count(settings.db_path) == 1
    done = app.erasure.resume_pending(settled_s=0)
    assert [r.body["status"] for r in done] == ["verified"]
    assert raw_hits(settings, [ALICE[0]], extra=_db_files(settings)) == {}


def test_the_sweep_interval_is_a_setting(tmp_path, embedder):
    from memoryd.config import Settings
    from memoryd.errors import ConfigError

    st = Settings.load(home=tmp_path / "h", env={"MEMORYD_ERASURE_SWEEP_S": "2.5"})
    assert st.erasure_sweep_s == 2.5 and st.to_env()["MEMORYD_ERASURE_SWEEP_S"] == "2.5"
    assert Settings.load(home=tmp_path / "h", env={}).erasure_sweep_s == 30.0
    with pytest.raises(ConfigError):
        Settings.load(home=tmp_path / "h", env={"MEMORYD_ERASURE_SWEEP_S": "-1"})
    off = Settings.load(home=tmp_path / "h", env={"MEMORYD_ERASURE_SWEEP_S": "0"})
    with App(off, embedder=embedder) as a:
        assert a.start_erasure_sweeper() is None
