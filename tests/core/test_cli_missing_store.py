"""A read-only command on a store that does not exist (a typo in --db, MEMORYD_DB or
MEMORYD_HOME) fails clearly instead of creating an empty store that looks like data lost;
commands that write still create the store, and the default home still works on first run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memoryd.cli import app as cli

runner = CliRunner()


@pytest.mark.parametrize("args", [["stats"], ["search", "anything"], ["list"], ["show", "01ABC"], ["export"],
                                  ["context", "anything"], ["forget", "01ABC"], ["trust", "show"],
                                  ["trust", "explain", "mcp"], ["trust", "verify"], ["quarantine", "list"],
                                  ["graph", "stats"], ["graph", "communities"], ["graph", "show", "01ABC"],
                                  ["doctor"]])
def test_read_only_command_on_a_missing_store_fails_and_creates_nothing(tmp_path, args):
    db = tmp_path / "typo" / "memoryd.db"
    res = runner.invoke(cli, ["--db", str(db), *args, "--json"])
    assert res.exit_code == 3, res.output
    assert str(db) in res.stderr and "no memoryd store" in res.stderr and "memoryd --db" in res.stderr
    assert not (tmp_path / "typo").exists()
    same_dir = runner.invoke(cli, ["--db", str(tmp_path / "memroyd.db"), *args])  # a typo in the file name
    assert same_dir.exit_code == 3 and not (tmp_path / "memroyd.db").exists()


def test_writes_still_create_the_store(tmp_path, embedder):
    db = tmp_path / "new" / "memoryd.db"
    res = runner.invoke(cli, ["--db", str(db), "add", "first memory of a new store", "--json"])
    assert res.exit_code == 0, res.output
    assert db.exists()
    st = runner.invoke(cli, ["--db", str(db), "stats", "--json"])
    assert st.exit_code == 0 and json.loads(st.stdout)["memories"] == 1


def test_env_path_and_default_home_in_a_subprocess(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYD_")}
    cmd = [str(Path(sys.executable).parent / "memoryd"), "stats", "--json"]
    bad = subprocess.run(cmd, env={**env, "MEMORYD_HOME": str(tmp_path / "nohome")}, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 3 and "nohome" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "nohome").exists()
    # a fresh machine: the default home (XDG_DATA_HOME) answers with an empty store
    fresh = subprocess.run(cmd, env={**env, "XDG_DATA_HOME": str(tmp_path / "xdg")}, capture_output=True,
                           text=True, timeout=60)
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout)["memories"] == 0


@pytest.mark.parametrize("args", [["update", "01ABC", "new text"], ["retag", "01ABC", "t"], ["feedback", "01ABC", "useful"],
                                  ["erase", "--subject", "Jane Doe"], ["erase", "--subject", "Jane Doe", "--yes"],
                                  ["erase", "receipts"], ["erase", "verify", "01ABC"], ["erase", "resume"],
                                  ["subject", "export", "-s", "Jane Doe"], ["agents", "list"], ["agents", "revoke", "a"],
                                  ["agents", "rotate", "a"], ["models", "list"], ["models", "show", "x"],
                                  ["models", "resume"], ["reindex"], ["graph", "rebuild"], ["trust", "sweep"],
                                  ["quarantine", "release", "01ABC"], ["quarantine", "purge", "--yes"],
                                  ["doctor", "--warm"]])
def test_commands_with_nothing_to_act_on_do_not_create_a_store_either(tmp_path, args):
    """An erasure, a receipt check or an update aimed at a mistyped path must not answer
    "0 erased" / "not found" from a store it has just created."""
    db = tmp_path / "typo" / "memoryd.db"
    res = runner.invoke(cli, ["--db", str(db), *args, "--json"])
    assert res.exit_code == 3, res.output
    assert json.loads(res.stderr)["error"]["type"] == "StoreError" and "no memoryd store" in res.stderr
    assert not (tmp_path / "typo").exists()
