"""`forget` is one use case (services/forget.py): the CLI command and the MCP tool, run on two
identical stores, leave the same store behind — the same rows, a deletion-log entry, the
text gone from the database file and its WAL — and the MCP limit and authority still hold."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from memoryd.app import App
from memoryd.cli import app as cli
from memoryd.config import Settings
from memoryd.mcp import create_server
from memoryd.models import NewMemory, Provenance
from memoryd.store import memories as mstore

from mcp_helpers import call, fail, run_client

CANARY = "Quorvintel badge 4471 opens the Zephyrine vault"
TEXTS = [CANARY, "The build cache lives on the shared NFS volume", "Standup moved to 9:30 on Mondays"]


def _store(tmp_path, name: str, embedder) -> tuple[Settings, App, list[str]]:
    settings = Settings.load(home=tmp_path / name, db=tmp_path / name / "memoryd.db", env={})
    app = App(settings, embedder=embedder)
    app.agents.add("alice")
    res = app.memories.remember_many([NewMemory(t, provenance=Provenance(agent_id="alice")) for t in TEXTS])
    return settings, app, [r.memory.id for r in res]


def _observed(settings: Settings, app: App) -> dict:
    db = settings.db_path
    raw = b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())
    hits = app.memories.search("Quorvintel Zephyrine vault badge")
    return {
        "rows": sorted(m.content for m in app.memories.list(limit=50)),
        "deletions": mstore.last_deletion(app.conn),
        "canary_bytes": raw.count(b"Quorvintel"),
        "found": [h.memory.content for h in hits if "Quorvintel" in h.memory.content],
    }


def test_cli_and_mcp_forget_leave_the_same_store(tmp_path, embedder):
    s_cli, a_cli, ids_cli = _store(tmp_path, "cli", embedder)
    s_mcp, a_mcp, ids_mcp = _store(tmp_path, "mcp", embedder)
    before = _observed(s_cli, a_cli)
    assert before["canary_bytes"] >= 1 and before["found"] == [CANARY]  # the check below can fail
    a_cli.close()
    res = CliRunner().invoke(cli, ["--db", str(s_cli.db_path), "--home", str(s_cli.home), "forget", ids_cli[0],
                                   "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"forgotten": [ids_cli[0]]}

    alice = create_server(a_mcp, token=a_mcp.agents.rotate("alice").token)
    gone = run_client(alice, lambda c: call(c, "forget", {"id": ids_mcp[0]}))
    assert gone == {"forgotten": ids_mcp[0], "namespace": "default"}

    after_mcp = _observed(s_mcp, a_mcp)
    a_mcp.close()
    with App(s_cli, embedder=embedder) as reopened:
        after_cli = _observed(s_cli, reopened)
    assert after_cli == after_mcp
    assert after_cli["rows"] == sorted(TEXTS[1:]) and after_cli["deletions"] == 1
    assert after_cli["canary_bytes"] == 0 and after_cli["found"] == []


def test_mcp_forget_keeps_its_authority_and_the_cli_is_the_operator(tmp_path, embedder):
    settings, app, ids = _store(tmp_path, "auth", embedder)
    bob = create_server(app, token=app.agents.add("bob").token)
    refused = run_client(bob, lambda c: fail(c, "forget", {"id": ids[1]}))
    assert "only its own" in refused
    assert len(app.memories.list(limit=50)) == 3
    app.close()
    res = CliRunner().invoke(cli, ["--db", str(settings.db_path), "--home", str(settings.home), "forget", ids[1],
                                   "--json"])
    assert res.exit_code == 0, res.output
    with App(settings, embedder=embedder) as reopened:
        assert sorted(m.content for m in reopened.memories.list(limit=50)) == sorted([TEXTS[0], TEXTS[2]])
