from memoryd.db.driver import sqlite3  # the same SQLite library as memoryd (see its docstring)

import pytest

from memoryd.db import connect, migrate
from memoryd.db.migrate import applied_versions, available_migrations, split_statements
from memoryd.errors import MigrationError


def test_fresh_database_gets_all_migrations_and_pragmas(settings):
    conn = connect(settings.db_path)
    applied = migrate(conn, settings.migrations_dir)
    want = [m.version for m in available_migrations(settings.migrations_dir)]
    assert applied == want
    assert applied_versions(conn) == set(want)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    # running again is a no-op
    assert migrate(conn, settings.migrations_dir) == []


def test_older_database_is_upgraded_on_open(settings):
    conn = connect(settings.db_path)
    migrate(conn, settings.migrations_dir, upto=1)
    conn.execute(
        "INSERT INTO memories(id, content, created_at, updated_at, content_hash) VALUES ('old1', 'kept across upgrade', 1, 1, 'h')"
    )
    assert "agents" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()

    from memoryd.app import App

    app = App(settings, embedder=object())  # opening upgrades; no model needed
    try:
        names = {r[0] for r in app.conn.execute("SELECT name FROM sqlite_master")}
        assert "agents" in names
        assert app.conn.execute("SELECT content FROM memories WHERE id='old1'").fetchone()[0] == "kept across upgrade"
        assert max(applied_versions(app.conn)) == max(m.version for m in available_migrations(settings.migrations_dir))
    finally:
        app.close()


def test_failing_migration_rolls_back_completely(tmp_path):
    d = tmp_path / "migs"
    d.mkdir()
    (d / "0001_ok.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    (d / "0002_bad.sql").write_text("CREATE TABLE b (x INTEGER);\nINSERT INTO nope VALUES (1);\n")
    conn = connect(tmp_path / "t.db")
    with pytest.raises(MigrationError, match="0002_bad"):
        migrate(conn, d)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "a" in names and "b" not in names  # 0002 left nothing behind
    assert applied_versions(conn) == {1}


def test_split_statements_keeps_trigger_bodies_whole():
    sql = """CREATE TABLE t(x);
-- comment
CREATE TRIGGER tr AFTER INSERT ON t BEGIN
  INSERT INTO t VALUES (1);
  INSERT INTO t VALUES (2);
END;
"""
    stmts = split_statements(sql)
    assert len(stmts) == 2
    assert stmts[1].startswith("CREATE TRIGGER") and stmts[1].endswith("END;")
    assert all(sqlite3.complete_statement(s) for s in stmts)


def test_a_store_written_by_a_newer_memoryd_is_refused_and_left_as_it_is(tmp_path, embedder):
    """A migration number this code does not know: opening says to upgrade and writes nothing
    (not even the migrations this code would apply), through the real CLI too."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from memoryd.app import App
    from memoryd.config import Settings
    from memoryd.db import connect
    from memoryd.errors import MigrationError

    db = tmp_path / "m.db"
    settings = Settings.load(home=tmp_path / "home", db=db, env={})
    App(settings, embedder=embedder).close()
    c = connect(db)
    c.execute("INSERT INTO schema_migrations(version, name, applied_at) VALUES (9999, 'from_the_future', 0)")
    c.close()
    before = db.read_bytes()
    with pytest.raises(MigrationError, match="newer memoryd"):
        App(settings, embedder=embedder)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYD_")}
    env["MEMORYD_HOME"] = str(tmp_path / "home")
    cmd = [str(Path(sys.executable).parent / "memoryd"), "--db", str(db)]
    for args in (["add", "written by an older memoryd"], ["stats"]):
        res = subprocess.run([*cmd, *args, "--json"], capture_output=True, text=True, timeout=120, env=env)
        assert res.returncode == 3 and "Traceback" not in res.stderr, res.stderr
        err = json.loads(res.stderr)["error"]
        assert err["type"] == "MigrationError" and "9999" in err["message"] and "upgrade" in err["message"]
    c = connect(db)
    assert c.execute("SELECT count(*) FROM memories").fetchone()[0] == 0
    c.close()
    assert db.read_bytes() == before
