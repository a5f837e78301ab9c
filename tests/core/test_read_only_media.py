"""A store on a file system mounted read-only (a backup disk, a snapshot, a read-only volume):
memoryd reads it as it is (SQLite's immutable mode, db/media.py) and refuses every write in
one line, leaving its bytes as they were. Needs a real read-only bind mount (root with
CAP_SYS_ADMIN); skipped where one cannot be made."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from memoryd.db import driver

from test_store_faults import _one_clean_line  # tests/core, on the path (no package)
from test_store_faults import cli as _cli


def cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    """memoryd on `db` with a writable home next to the mount (the home holds keys and tokens)."""
    return _cli(db, *args, home=db.parent.parent / "home")


@pytest.fixture
def mount_ro(tmp_path):
    mounted: list[Path] = []

    def mount(src: Path) -> Path:
        dst = tmp_path / f"ro{len(mounted)}"
        dst.mkdir()
        for cmd in (["mount", "--bind", str(src), str(dst)], ["mount", "-o", "remount,ro,bind", str(dst)]):
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                if cmd[1] == "-o":
                    subprocess.run(["umount", str(dst)], capture_output=True)
                pytest.skip(f"cannot make a read-only bind mount here: {res.stderr.strip()}")
        mounted.append(dst)
        return dst

    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    yield mount
    for d in reversed(mounted):
        subprocess.run(["umount", str(d)], capture_output=True)


def _digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_a_store_on_a_read_only_mount_answers_reads_and_refuses_writes(tmp_path, mount_ro):
    src = tmp_path / "s"
    db = src / "m.db"
    assert cli(db, "add", "the deploy key lives in vault path secret/deploy").returncode == 0
    ro = mount_ro(src)
    before = _digest(ro)
    rodb = ro / "m.db"
    # before db/media.py: "unable to open database file" for every command, reads included
    found = cli(rodb, "search", "deploy key", "--json")
    assert found.returncode == 0, found.stderr
    assert [h["content"] for h in json.loads(found.stdout)] == ["the deploy key lives in vault path secret/deploy"]
    mid = json.loads(found.stdout)[0]["id"]
    for args in (("graph", "communities", "--json"), ("graph", "show", mid, "--json")):  # they refresh stale labels
        res = cli(rodb, *args)
        assert res.returncode == 0 and "Traceback" not in res.stderr, (args, res.stderr)
    stats = cli(rodb, "stats", "--json")
    assert stats.returncode == 0 and json.loads(stats.stdout)["memories"] == 1, stats.stderr
    doctor = cli(rodb, "doctor", "--json")
    assert doctor.returncode == 0, doctor.stderr  # reading works: a warning, not a failure
    checks = {c["check"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert not checks["writable"]["ok"] and "read-only" in checks["writable"]["detail"]
    for args in (("add", "a new note"), ("erase", "--subject", "deploy", "--yes")):
        _one_clean_line(cli(rodb, *args), "mounted read-only", str(rodb))
    assert _digest(ro) == before  # nothing written, no -wal or -shm made


def test_a_read_only_mount_with_unapplied_wal_changes_is_refused_not_read_stale(tmp_path, mount_ro):
    src = tmp_path / "s"
    db = src / "m.db"
    assert cli(db, "add", "the first note about sailing").returncode == 0
    copy = tmp_path / "copy"
    copy.mkdir()
    conn = driver.sqlite3.connect(str(db), isolation_level=None)
    try:
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("UPDATE memories SET content = content || ' and rowing'")
        for name in ("m.db", "m.db-wal"):  # a snapshot taken while a writer had changes in its WAL
            shutil.copyfile(src / name, copy / name)
    finally:
        conn.close()
    assert (copy / "m.db-wal").stat().st_size > 0
    ro = mount_ro(copy)
    _one_clean_line(cli(ro / "m.db", "search", "sailing"), "read-only", "m.db-wal", "writable place")


def test_a_home_on_a_read_only_mount_is_one_line_naming_the_fix(tmp_path, mount_ro):
    (tmp_path / "h").mkdir()
    home = mount_ro(tmp_path / "h") / "home"
    db = tmp_path / "w" / "m.db"
    assert cli(db, "add", "a note in a store whose home is writable").returncode == 0
    res = _cli(db, "search", "anything", home=home)  # search reads the trust key, which lives in the home
    assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr  # was an OSError traceback
    (line,) = res.stderr.strip().splitlines()
    assert "memoryd.key" in line and "MEMORYD_HOME" in line
