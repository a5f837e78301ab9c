"""Store files are readable by their owner only: a new home is 0700, a new database 0600 and
SQLite gives its -wal and -shm the same mode; an older store made with the umask's modes is
left alone, and `memoryd doctor` reports it with the chmod that fixes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memoryd.app import App
from memoryd.cli import app as cli
from memoryd.config import Settings
from memoryd.models import NewMemory

PY_CLI = "import sys; from memoryd.cli import main; sys.argv[0] = 'memoryd'; main()"


def _mode(p: Path) -> int:
    return p.stat().st_mode & 0o777


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)  # the common default: files 0644, directories 0755
    yield
    os.umask(old)


def test_a_new_store_is_private_to_its_owner(tmp_path, embedder, loose_umask):
    home = tmp_path / "fresh" / "home"
    st = Settings.load(home=home, env={})
    with App(st, embedder=embedder) as a:
        a.memories.remember(NewMemory("the door code is 4711"))
        a.master_key()
        db = st.db_path
        wal, shm = Path(str(db) + "-wal"), Path(str(db) + "-shm")
        assert wal.exists() and shm.exists()
        assert {p.name: _mode(p) for p in (db, wal, shm, st.key_path)} == {
            "memoryd.db": 0o600, "memoryd.db-wal": 0o600, "memoryd.db-shm": 0o600, "memoryd.key": 0o600}
        assert _mode(home) == 0o700


def test_the_cli_creates_a_private_home_in_another_process(tmp_path):
    home = tmp_path / "x"
    env = {**os.environ, "MEMORYD_HOME": str(home)}
    env.pop("MEMORYD_DB", None)
    p = subprocess.run(["sh", "-c", f'umask 022 && exec "{sys.executable}" -c "$0" add "hello, private"', PY_CLI],
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert _mode(home) == 0o700 and _mode(home / "memoryd.db") == 0o600


def test_an_existing_database_keeps_its_mode_and_doctor_warns(tmp_path, embedder, loose_umask):
    home = tmp_path / "old"
    st = Settings.load(home=home, env={})
    with App(st, embedder=embedder) as a:
        a.memories.remember(NewMemory("written before memoryd made files private"))
    db = st.db_path
    db.chmod(0o644)  # a store made by an older memoryd under umask 022
    runner = CliRunner()
    res = runner.invoke(cli, ["--home", str(home), "doctor", "--json"])
    assert res.exit_code == 0, res.output  # a warning, not a failure
    data = json.loads(res.stdout)
    check = next(c for c in data["checks"] if c["check"] == "file permissions")
    assert check["ok"] is False and check["level"] == "warning" and data["warnings"] == 1
    assert f"chmod 600 {db}" in check["fix"] and f"{db} is mode 0644" in check["detail"]
    assert _mode(db) == 0o644  # not changed behind the user's back
    human = runner.invoke(cli, ["--home", str(home), "doctor"])
    assert "WARN" in human.stdout and f"chmod 600 {db}" in human.stdout
    for fix in check["fix"]:
        subprocess.run(fix.split(), check=True)
    res = runner.invoke(cli, ["--home", str(home), "doctor", "--json"])
    check = next(c for c in json.loads(res.stdout)["checks"] if c["check"] == "file permissions")
    assert check["ok"] is True


def test_doctor_warns_about_a_home_others_can_enter(tmp_path, embedder):
    home = tmp_path / "shared"
    st = Settings.load(home=home, env={})
    with App(st, embedder=embedder) as a:
        a.memories.remember(NewMemory("note"))
    home.chmod(0o755)
    res = CliRunner().invoke(cli, ["--home", str(home), "doctor", "--json"])
    check = next(c for c in json.loads(res.stdout)["checks"] if c["check"] == "file permissions")
    assert not check["ok"] and check["fix"] == [f"chmod 700 {home}"]
