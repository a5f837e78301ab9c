"""Two memoryd processes opening a store that does not exist yet, at the same moment: on a
fresh machine Claude Code starts `memoryd serve` (stdio) and runs the SessionStart hook
together, and a user's shell loop may be running `memoryd add` too. Each one migrates the new
file; the one that loses the race must find the migrations applied, not fail with
"table agents already exists" (a MigrationError: the MCP server would not start)."""

from __future__ import annotations

import subprocess
import sys
import time

import importlib

from memoryd.db import connect, migrate
from memoryd.db.migrate import applied_versions, available_migrations

migrate_mod = importlib.import_module("memoryd.db.migrate")  # the module: memoryd.db exports a function of that name

OPEN = """
import sys, time
from pathlib import Path
from memoryd.app import App
from memoryd.config import Settings
go = Path(sys.argv[2])
while not go.exists():  # imported already: all open the store within a few milliseconds
    time.sleep(0.001)
App(Settings.load(db=sys.argv[1]), embedder=object()).close()
"""


def test_a_migration_applied_by_another_process_meanwhile_is_skipped(settings, monkeypatch):
    """The race itself, made certain: this process read the applied versions (none yet),
    then another process migrated the whole file before this one's first transaction."""
    mine = connect(settings.db_path, store=True)
    other = connect(settings.db_path, store=True)
    real = applied_versions
    stale = real(mine)  # read before the other process migrated: nothing applied yet

    def read_then_lose_the_race(conn):
        if conn is other:
            return real(conn)
        migrate(other, settings.migrations_dir)  # the other process wins, after this one's read
        return stale

    monkeypatch.setattr(migrate_mod, "applied_versions", read_then_lose_the_race)
    assert migrate_mod.migrate(mine, settings.migrations_dir) == []  # nothing left to apply, no error
    want = {m.version for m in available_migrations(settings.migrations_dir)}
    assert real(mine) == want
    assert mine.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(want)
    mine.close()
    other.close()


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path):
    failures = []
    for rnd in range(4):
        db = tmp_path / f"round{rnd}" / "memoryd.db"
        go = tmp_path / f"go{rnd}"
        procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(db), str(go)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        time.sleep(2.5)  # every child has imported memoryd and waits at the line
        go.touch()
        for p in procs:
            _, err = p.communicate(timeout=120)
            if p.returncode != 0:
                failures.append(err.strip().splitlines()[-1])
    assert failures == []
