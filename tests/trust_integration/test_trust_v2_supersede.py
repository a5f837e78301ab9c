"""Supersede instead of duplicate (`remember(..., supersedes=ID)`, `memoryd update ID`), the
near-duplicate suggestion, `trust explain` and `quarantine list` in words (issue 14)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memoryd.cli import app as cli
from memoryd.errors import AuthError, ValidationError
from memoryd.mcp import create_server
from memoryd.models import NewMemory, Provenance
from memoryd.services.memories import SearchOptions

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "mcp"))
from mcp_helpers import call, fail, run_client  # noqa: E402

from trust_helpers import HONEST, INJECTION, write  # noqa: E402

runner = CliRunner()


def _ids(app, q):
    return [h.memory.id for h in app.memories.search(q, opts=SearchOptions(limit=10))]


def test_an_agent_supersedes_its_own_memory_and_the_old_one_leaves_search(sim_app):
    old = write(sim_app, "h1", "The billing worker of orion-api listens on port 8125 locally.")
    res = sim_app.memories.remember(NewMemory("The billing worker of orion-api listens on port 9090 locally.",
                                              namespace="team", provenance=Provenance("h1", tool="mcp")),
                                    supersedes=old.id)
    assert res.supersedes == old.id
    q = "which port does the billing worker of orion-api listen on"
    assert res.memory.id in _ids(sim_app, q) and old.id not in _ids(sim_app, q)
    plain = [h.memory.id for h in sim_app.memories.search(q, opts=SearchOptions(limit=10, trust=False))]
    assert old.id not in plain  # out of search with or without trust
    assert sim_app.memories.get(old.id).content.endswith("8125 locally.")  # kept as history
    with pytest.raises(ValidationError, match="already superseded"):
        sim_app.memories.remember(NewMemory("port 7070", namespace="team", provenance=Provenance("h1", tool="mcp")),
                                  supersedes=old.id)
    sim_app.memories.forget(res.memory.id)  # the new version goes: the old one is back
    assert old.id in _ids(sim_app, q)


def test_only_the_author_or_the_operator_may_supersede(sim_app):
    theirs = write(sim_app, "h1", HONEST[1])
    with pytest.raises(AuthError, match="only its own"):
        sim_app.memories.remember(NewMemory("Bob owns the search indexer in amber-ledger.", namespace="team",
                                            provenance=Provenance("mallory", tool="mcp")), supersedes=theirs.id)
    assert theirs.id in _ids(sim_app, "who owns the search indexer in amber-ledger")
    op = sim_app.memories.remember(NewMemory("Bo Lind owns the search indexer in amber-ledger.", namespace="team",
                                             provenance=Provenance("cli", tool="cli")), supersedes=theirs.id)
    assert op.supersedes == theirs.id and theirs.id not in _ids(sim_app, "who owns the search indexer in amber-ledger")


def test_remember_names_a_near_duplicate_and_mcp_suggests_superseding(app):
    server = create_server(app, agent_id="alice")

    async def go(c):
        a = await call(c, "remember", {"content": "The export job of delta-vault runs every night at 02:00 UTC."})
        b = await call(c, "remember", {"content": "The export job of delta-vault runs every night at 03:00 UTC."})
        c2 = await call(c, "remember", {"content": "Bananas are rich in potassium."})
        upd = await call(c, "remember", {"content": "The export job of delta-vault runs nightly at 04:00 UTC.",
                                         "supersedes": b["id"]})
        err = await fail(c, "remember", {"content": "x y z", "supersedes": "01H0000000000000000000000Z"})
        old, new = await call(c, "get", {"id": b["id"]}), await call(c, "get", {"id": upd["id"]})
        return a, b, c2, upd, err, old, new

    a, b, c2, upd, err, old, new = run_client(server, go)
    assert b["similar"]["id"] == a["id"] and "supersedes=" in b["similar"]["hint"]
    assert "similar" not in c2
    assert upd["supersedes"] == b["id"] and "no memory" in err
    # `get` of the old version names the one that replaced it; the current one names none
    assert old["superseded_by"] == upd["id"] and new["superseded_by"] is None


def test_cli_update_supersedes(settings, embedder):
    from memoryd.app import App

    a = App(settings, embedder=embedder)
    old = write(a, "h1", HONEST[0])
    a.close()
    res = runner.invoke(cli, ["--db", str(settings.db_path), "update", old.id,
                              "The billing worker of orion-api listens on port 9191 locally.", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["supersedes"] == old.id and data["namespace"] == "team" and data["provenance"]["tool"] == "cli"
    shown = runner.invoke(cli, ["--db", str(settings.db_path), "show", old.id, "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["superseded_by"] == data["id"]
    current = runner.invoke(cli, ["--db", str(settings.db_path), "show", data["id"], "--json"])
    assert json.loads(current.stdout)["superseded_by"] is None
    human = runner.invoke(cli, ["--db", str(settings.db_path), "show", old.id])
    assert f"superseded by {data['id']}" in human.stdout


def test_explain_and_quarantine_list_say_why_in_words(settings, embedder):
    from memoryd.app import App

    a = App(settings, embedder=embedder)
    bad = write(a, "mallory", INJECTION)
    a.close()
    base = ["--db", str(settings.db_path)]
    listed = json.loads(runner.invoke(cli, [*base, "quarantine", "list", "--json"]).stdout)
    assert [q["id"] for q in listed] == [bad.id]
    assert "of its content" in listed[0]["trust"]["reason"] and "injection" in listed[0]["trust"]["reason"]
    human = runner.invoke(cli, [*base, "quarantine", "list"])
    assert human.exit_code == 0 and "injection" in human.stdout
    mem = json.loads(runner.invoke(cli, [*base, "trust", "explain", bad.id, "--json"]).stdout)
    assert mem["quarantined"] is True and "quarantine release" in mem["verdict"]
    assert {e["kind"] for e in mem["evidence"]} >= {"injection_pattern"}
    assert all(e["tier"] == "standing" for e in mem["evidence"] if e["kind"] == "injection_pattern")
    agent = json.loads(runner.invoke(cli, [*base, "trust", "explain", "mallory", "--json"]).stdout)
    assert agent["subject_type"] == "agent" and agent["evidence"]
    assert runner.invoke(cli, [*base, "trust", "explain", "mallory"]).exit_code == 0
    missing = runner.invoke(cli, [*base, "trust", "explain", "nobody-here"])
    assert missing.exit_code != 0


def test_operator_memories_are_never_demoted_by_behaviour(sim_app, clock):
    """The operator's imports: near-duplicates by the thousand, an odd line quoting an injection
    phrase, readers quoting them -- trusted, never hidden; only the operator's flag hides them."""
    items = [NewMemory(f"Service s{i} listens on port {4000 + i}.", namespace="ops", provenance=Provenance("cli", tool="cli"))
             for i in range(60)]
    items.append(NewMemory(INJECTION, namespace="ops", provenance=Provenance("cli", tool="cli")))
    res = sim_app.memories.remember_many(items)
    for r in res[:12]:
        sim_app.memories.search(" ".join(r.memory.content.split()[:5]) + "?", opts=SearchOptions(limit=5))
    assert sim_app.trust.quarantined() == []
    mt = sim_app.trust.memory_trust(res[-1].memory.id)
    assert mt.operator and not mt.quarantined and mt.mean > 0.9
    sim_app.trust.flag("cli")
    assert sim_app.trust.memory_trust(res[0].memory.id).quarantined
