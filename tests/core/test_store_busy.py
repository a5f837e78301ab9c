"""Lock contention leaves db/ as StoreBusy (the error tree), from real connections and a real
second process, so nothing above db/ reads SQLite's messages (mcp/retry.py retries on the class)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import pytest

from memoryd.app import App
from memoryd.db import connect, transaction
from memoryd.errors import StoreBusy, StoreError
from memoryd.mcp.retry import retry_locked
from memoryd.models import NewMemory, Provenance

HOLD_LOCK = textwrap.dedent("""
    import sys
    from memoryd.db.driver import sqlite3
    c = sqlite3.connect(sys.argv[1], isolation_level=None)
    c.execute("BEGIN IMMEDIATE")
    print("holding", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    c.execute("COMMIT")
""")


def test_a_held_write_lock_is_store_busy_at_begin_execute_and_rolls_back(tmp_path):
    db = tmp_path / "m.db"
    holder = connect(db)
    holder.execute("CREATE TABLE t (x)")
    victim = connect(db, busy_timeout_ms=50)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # the file is named: a user with a project --db and the default store must see which is locked
        with pytest.raises(StoreBusy, match=r"m\.db is locked by another connection"):
            with transaction(victim):
                victim.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(StoreBusy, match=r"m\.db is locked"):
            victim.execute("INSERT INTO t VALUES (2)")  # autocommit write outside a transaction
        assert not victim.in_transaction
        assert isinstance(StoreBusy("x"), StoreError)  # callers that catch StoreError still do
    finally:
        holder.execute("COMMIT")
    with transaction(victim):
        victim.execute("INSERT INTO t VALUES (3)")
    assert [r[0] for r in holder.execute("SELECT x FROM t")] == [3]  # nothing from the failed tries


def test_another_process_holding_the_lock_is_retried_until_it_lets_go(settings, embedder):
    settings = dataclasses.replace(settings, busy_timeout_ms=100)
    with App(settings, embedder=embedder) as app:
        proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(settings.db_path)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "holding"
            new = NewMemory("written once the other process lets go", provenance=Provenance(agent_id="t"))
            with pytest.raises(StoreBusy):
                app.memories.remember(new)
            waits = []

            def let_go(delay):  # the backoff's sleep: the other process commits and exits
                waits.append(delay)
                proc.stdin.close()
                proc.wait(timeout=60)

            res = retry_locked(lambda: app.memories.remember(new), sleep=let_go)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert len(waits) == 1 and proc.returncode == 0
        assert app.memories.get(res.memory.id).content == new.content


def test_closing_while_another_process_holds_the_lock_does_not_wait_out_the_busy_timeout(settings, embedder):
    """PRAGMA optimize at close is housekeeping: a command whose work is done (a read, or a write
    that already failed with StoreBusy) must not wait a second busy timeout for it."""
    import time

    from timing import budget

    settings = dataclasses.replace(settings, busy_timeout_ms=20_000)
    app = App(settings, embedder=embedder)
    app.memories.remember(NewMemory("a memory so the store has something to optimize", provenance=Provenance(agent_id="t")))
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(settings.db_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holding"
        t0 = time.monotonic()
        app.close()
        assert time.monotonic() - t0 < budget(2.0)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)

