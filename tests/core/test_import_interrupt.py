"""Ctrl-C half-way through a large import: what was committed is whole (row, full-text entry and
vector together), the command says how far it got without a traceback, and running it again
finishes the import without duplicates."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

MEMORYD = str(Path(sys.executable).parent / "memoryd")
N = 3000


def _count(db: Path) -> int:
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return c.execute("SELECT count(*) FROM memories").fetchone()[0]
        finally:
            c.close()
    except sqlite3.Error:
        return 0


def test_sigint_half_way_keeps_whole_chunks_and_a_rerun_finishes_without_duplicates(tmp_path):
    db = tmp_path / "m.db"
    src = tmp_path / "big.jsonl"
    src.write_text("".join(json.dumps({"content": f"imported memory {i} on subject {i % 13} word{i}"}) + "\n"
                           for i in range(N)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYD_")}
    env["MEMORYD_HOME"] = str(tmp_path / "home")
    cmd = [MEMORYD, "--db", str(db), "import", str(src)]
    # a suite started in the background by a shell without job control inherits SIGINT ignored,
    # and Python then installs no KeyboardInterrupt handler: give the child the default back
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while _count(db) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the import finished before it could be interrupted: make N larger"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    done = _count(db)
    assert 0 < done < N
    assert "interrupted" in err and f"{done} of {N}" in err and "again" in err, err

    st = json.loads(subprocess.run([MEMORYD, "--db", str(db), "stats", "--json"], capture_output=True, text=True,
                                   env=env, timeout=120).stdout)
    assert st["memories"] == done and st["vectors"] == done  # every committed row has its vector
    c = sqlite3.connect(db)
    assert c.execute("SELECT count(*) FROM memories_fts").fetchone()[0] == done
    c.close()

    again = subprocess.run([*cmd, "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr
    res = json.loads(again.stdout)
    assert res["imported"] == N - done and res["duplicates"] == done
    st = json.loads(subprocess.run([MEMORYD, "--db", str(db), "stats", "--json"], capture_output=True, text=True,
                                   env=env, timeout=120).stdout)
    assert st["memories"] == N and st["vectors"] == N


def test_a_disk_full_half_way_says_what_was_stored_and_a_rerun_with_room_finishes(tmp_path):
    """A real full file system (a 2 MiB tmpfs; skipped where mounting is not allowed)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)")
    src = tmp_path / "big.jsonl"
    src.write_text("".join(json.dumps({"content": f"imported memory {i} on subject {i % 13} word{i}"}) + "\n"
                           for i in range(N)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYD_")}
    env["MEMORYD_HOME"] = str(tmp_path / "home")
    try:
        db = mnt / "m.db"
        res = subprocess.run([MEMORYD, "--db", str(db), "import", str(src), "--json"], capture_output=True,
                             text=True, env=env, timeout=600)
        assert res.returncode == 3 and res.stdout == "", res.stderr
        err = json.loads(res.stderr)["error"]
        assert err["type"] == "StoreFull" and "disk is full" in err["message"]
        done = _count(db)
        assert 0 < done < N and f"first {done} of {N} records were stored" in err["message"]
        st = json.loads(subprocess.run([MEMORYD, "--db", str(db), "stats", "--json"], capture_output=True,
                                       text=True, env=env, timeout=120).stdout)
        assert st["memories"] == done and st["vectors"] == done
        roomy = tmp_path / "roomy.db"
        shutil.copy(db, roomy)
        for suffix in ("-wal", "-shm"):
            if Path(f"{db}{suffix}").exists():
                shutil.copy(f"{db}{suffix}", f"{roomy}{suffix}")
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
    again = subprocess.run([MEMORYD, "--db", str(roomy), "import", str(src), "--json"], capture_output=True,
                           text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr
    res = json.loads(again.stdout)
    assert res["imported"] == N - done and res["duplicates"] == done
