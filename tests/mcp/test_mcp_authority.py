"""Authority through MCP (docs/security.md): scopes decide who may forget and erase what;
private namespaces stay out of reach, dry runs and counts included; big destructive calls
go to the CLI. Real SQLite file, real model, real fastmcp client."""

from __future__ import annotations

import pytest
from mcp_helpers import call, fail, run_client

from memoryd.erasure.models import ErasureRequest
from memoryd.errors import AuthError, ValidationError
from memoryd.mcp import create_server
from memoryd.models import NewMemory, Provenance

SUBJECT = "Grunhilda Vostrikova"


@pytest.fixture
def written(app, alice, bob):
    """alice: one private and one shared memory about the subject; bob: one shared; the
    operator: one in 'ops'."""

    async def alice_writes(c):
        mine = await call(c, "remember", {"content": f"{SUBJECT}'s phone is +1 555 0100", "namespace": "alice-private"})
        shared = await call(c, "remember", {"content": f"{SUBJECT} reviews the release notes"})
        return mine, shared

    mine, shared = run_client(alice, alice_writes)
    bobs = run_client(bob, lambda c: call(c, "remember", {"content": f"{SUBJECT} prefers tabs over spaces"}))
    ops = app.memories.remember(NewMemory(f"{SUBJECT} owns the deploy pipeline", namespace="ops",
                                          provenance=Provenance(agent_id="cli"))).memory
    return {"private": mine["id"], "alice": shared["id"], "bob": bobs["id"], "ops": ops.id}


def _exists(app, mem_id: str) -> bool:
    try:
        app.memories.get(mem_id)
        return True
    except Exception:  # noqa: BLE001 - NotFoundError
        return False


def test_without_erase_an_agent_cannot_erase_others_memories_through_any_tool(app, bob, written):
    async def go(c):
        forget_other = await fail(c, "forget", {"id": written["alice"]})
        forget_private = await fail(c, "forget", {"id": written["private"]})
        by_id = await call(c, "erase", {"ids": [written["alice"], written["private"], written["ops"]], "confirm": True})
        dry = await call(c, "erase", {"subject": SUBJECT})
        done = await call(c, "erase", {"subject": SUBJECT, "confirm": True})
        return forget_other, forget_private, by_id, dry, done

    forget_other, forget_private, by_id, dry, done = run_client(bob, go)
    assert "only its own" in forget_other and "'erase' scope" in forget_other
    assert "no memory with id" in forget_private  # private: looks exactly like an unknown id
    assert by_id["erased"] == 0
    assert [i["memory_id"] for i in dry["items"]] == [written["bob"]]  # only what bob wrote
    assert dry["near_misses"] == [] or all(i["agent_id"] == "bob" for i in dry["near_misses"])
    assert "phone" not in str(dry) and "alice-private" not in str(dry) and "ops" not in str(dry)
    assert done["erased"] == 1
    assert all(_exists(app, written[k]) for k in ("private", "alice", "ops"))
    assert not _exists(app, written["bob"])


def test_with_erase_the_bound_is_what_the_agent_can_read(app, agents, written):
    carol = create_server(app, token=app.agents.add("carol", scopes=["read", "write", "forget", "erase"]).token)

    async def go(c):
        dry = await call(c, "erase", {"subject": SUBJECT})
        done = await call(c, "erase", {"subject": SUBJECT, "confirm": True})
        return dry, done

    dry, done = run_client(carol, go)
    assert sorted(i["memory_id"] for i in dry["items"]) == sorted([written["alice"], written["bob"], written["ops"]])
    assert "phone" not in str(dry) and "alice-private" not in str(dry)
    assert not any("private" in n for n in dry["notes"])  # the notes do not hint at hidden memories
    assert done["erased"] == 3 and done["verified"] is True
    assert _exists(app, written["private"])


def test_operator_erases_everything_it_asks_for(app, written):
    plan = app.erasure.plan(ErasureRequest(subjects=(SUBJECT,)))
    assert len(plan.items) == 4
    receipt = app.erasure.execute(plan, confirm=True)
    assert receipt.ok and not any(_exists(app, i) for i in written.values()), __import__("json").dumps(receipt.body)


def test_big_destructive_calls_are_sent_to_the_cli(app, agents, written):
    app.agents.max_destructive = 2
    carol = create_server(app, token=app.agents.add("carol", scopes=["read", "write", "forget", "erase"]).token)

    async def go(c):
        dry = await call(c, "erase", {"subject": SUBJECT})
        refused = await fail(c, "erase", {"subject": SUBJECT, "confirm": True})
        return dry, refused

    dry, refused = run_client(carol, go)
    assert any("from the CLI" in n for n in dry["notes"])
    assert "limit" in refused and "CLI" in refused
    assert all(_exists(app, i) for i in written.values())


def test_scopes_are_enforced_in_the_services(app, agents, written):
    reader = app.agents.caller(app.agents.add("reader", scopes=["read"]).agent.id)
    with pytest.raises(AuthError, match="'write' scope"):
        app.memories.remember(NewMemory("no", provenance=Provenance(agent_id="reader")), caller=reader)
    with pytest.raises(AuthError, match="'forget' scope"):
        app.memories.forget_many([written["alice"]], caller=reader)
    with pytest.raises(AuthError):
        app.erasure.plan(ErasureRequest(subjects=(SUBJECT,)), caller=reader)
    writer = app.agents.caller(app.agents.add("writer", scopes=["write"]).agent.id)
    with pytest.raises(AuthError, match="'read' scope"):
        app.memories.search("release notes", caller=writer)
    assert [a.scopes for a in app.agents.list() if a.id == "reader"] == [("read",)]
    with pytest.raises(ValidationError, match="unknown scope"):
        app.agents.add("bad", scopes=["admin"])


def test_stats_and_communities_reveal_nothing_private(app, alice, bob, written):
    run_client(alice, lambda c: call(c, "feedback", {"id": written["private"], "verdict": "useful"}))

    async def go(c):
        return await call(c, "stats"), await call(c, "communities")

    stats, communities = run_client(bob, go)
    assert "alice-private" not in stats["namespaces"] and "alice-private" not in str(stats)
    assert stats["memories"] == 3 and "agents" not in stats  # per-writer counts would reveal alice's
    assert stats["feedback"]["useful"] == 0  # alice's feedback on her private memory is not counted
    assert app.feedback.totals()["useful"] == 1
    assert "phone" not in str(communities) and "555" not in str(communities)
    assert app.stats().memories == 4  # the operator sees everything


def test_stdio_identity_without_a_token_reads_no_private_namespace(app, agents, written):
    with pytest.raises(AuthError, match="registered"):
        create_server(app, agent_id="alice")  # a registered name needs its token
    anon = create_server(app, agent_id="journey")

    async def go(c):
        stored = await call(c, "remember", {"content": "Journey notes live in the shared namespace"})
        hits = await call(c, "recall", {"query": f"{SUBJECT} phone"})
        private = await fail(c, "recall", {"query": "phone", "namespaces": ["alice-private"]})
        write_private = await fail(c, "remember", {"content": "sneaky", "namespace": "alice-private"})
        got = await fail(c, "get", {"id": written["private"]})
        return stored, hits, private, write_private, got

    stored, hits, private, write_private, got = run_client(anon, go)
    assert stored["agent_id"] == "journey"
    assert written["private"] not in [h["id"] for h in hits["hits"]] and hits["count"] >= 1
    assert "private" in private and "private" in write_private and "no memory" in got
    with_token = create_server(app, token=agents["alice"])
    mine = run_client(with_token, lambda c: call(c, "get", {"id": written["private"]}))
    assert mine["namespace"] == "alice-private"
    app.agents.rotate("alice")  # the running server's token dies with the rotation
    assert "no longer valid" in run_client(with_token, lambda c: fail(c, "get", {"id": written["private"]}))
    with pytest.raises(AuthError, match="not valid"):
        create_server(app, token=agents["alice"][:-4] + "AAAA")


def test_no_agent_owns_what_the_operator_wrote(app, written):
    """The operator's memories carry agent_id 'cli' in their provenance. An agent by that name
    (an unverified `serve --agent cli`, or `agents add cli`) owned them all and could forget,
    supersede, retag and erase them with the default scopes: the name is reserved, and an
    agent caller named so (a store from before) still owns none of them."""
    from memoryd.services.authority import Caller

    with pytest.raises(ValidationError, match="reserved"):
        create_server(app, agent_id="cli")
    with pytest.raises(ValidationError, match="reserved"):
        app.agents.add("cli")
    ops = written["ops"]
    squatter = Caller(agent_id="cli")  # an agent, default scopes: read, write, forget
    with pytest.raises(AuthError):
        app.forgetting.forget([ops], caller=squatter)
    with pytest.raises(AuthError):
        app.memories.set_tags(ops, ["pwned"], caller=squatter)
    with pytest.raises(AuthError):
        app.memories.remember(NewMemory("the deploy pipeline is unowned now", namespace="ops",
                                        provenance=Provenance(agent_id="cli", tool="mcp")),
                              caller=squatter, supersedes=ops)
    plan = app.erasure.plan(ErasureRequest(memory_ids=(ops,)), caller=squatter)
    assert plan.items == ()
    assert _exists(app, ops) and app.memories.get(ops).tags == ()
