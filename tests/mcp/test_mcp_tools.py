"""Every tool through an in-memory fastmcp Client against a real SQLite file and the real model."""

from __future__ import annotations

import asyncio
from memoryd.db.driver import sqlite3  # the same SQLite library as memoryd (see its docstring)
import threading
import time

import pytest

from memoryd.errors import StoreBusy, StoreError
from memoryd.mcp.retry import retry_locked
from memoryd.models import NewMemory, Provenance

from mcp_helpers import call, fail, run_client


def test_remember_recall_get_list_stats(app, alice):
    async def go(c):
        a = await call(c, "remember", {"content": "Deploys run through scripts/deploy.sh on the bastion host",
                                       "tags": ["ops", "deploy"], "namespace": "infra", "importance": 0.9,
                                       "source": "docs/ops.md", "kind": "fact"})
        dup = await call(c, "remember", {"content": "Deploys run through scripts/deploy.sh on the bastion host",
                                         "namespace": "infra"})
        b = await call(c, "remember", {"content": "The staging database is Postgres 16 on port 5433"})
        found = await call(c, "recall", {"query": "how do we deploy?", "limit": 5})
        only_infra = await call(c, "recall", {"query": "database port", "namespaces": ["infra"]})
        tagged = await call(c, "recall", {"query": "deploy", "tags": ["ops"], "since": "1d"})
        got = await call(c, "get", {"id": a["id"]})
        recent = await call(c, "list_recent", {"limit": 10})
        stats = await call(c, "stats")
        return a, dup, b, found, only_infra, tagged, got, recent, stats

    a, dup, b, found, only_infra, tagged, got, recent, stats = run_client(alice, go)
    assert a["duplicate"] is False and a["agent_id"] == "alice" and a["tags"] == ["ops", "deploy"]
    assert dup["duplicate"] is True and dup["id"] == a["id"]
    top = found["hits"][0]
    assert top["id"] == a["id"] and top["score"] > 0 and top["why"]
    assert top["provenance"] == {"agent_id": "alice", "session_id": None, "tool": "mcp", "source": "docs/ops.md"}
    assert {h["namespace"] for h in only_infra["hits"]} == {"infra"}
    assert [h["id"] for h in tagged["hits"]] == [a["id"]]
    assert got["content"].startswith("Deploys") and got["kind"] == "fact" and got["importance"] == 0.9
    assert got["feedback"] == {"useful": 0, "wrong": 0, "harmful": 0}
    assert [m["id"] for m in recent["memories"]] == [b["id"], a["id"]]  # newest first
    assert stats["agent"] == "alice" and stats["memories"] == 2
    assert stats["namespaces"] == {"default": 1, "infra": 1} and stats["private_namespaces"] == ["alice-private"]
    # the service saw the same provenance the tool reported
    assert app.memories.get(a["id"]).provenance.agent_id == "alice"


def test_feedback_is_stored_and_counted(app, alice):
    async def go(c):
        m = await call(c, "remember", {"content": "Use ruff, not flake8, for linting"})
        ev = await call(c, "feedback", {"id": m["id"], "verdict": "useful"})
        await call(c, "feedback", {"id": m["id"], "verdict": "wrong", "note": "we moved to flake8 again"})
        got = await call(c, "get", {"id": m["id"]})
        stats = await call(c, "stats")
        bad = await fail(c, "feedback", {"id": m["id"], "verdict": "meh"})
        unknown = await fail(c, "feedback", {"id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ", "verdict": "useful"})
        long_note = await fail(c, "feedback", {"id": m["id"], "verdict": "harmful", "note": "x" * 2001})
        return m, ev, got, stats, bad, unknown, long_note

    m, ev, got, stats, bad, unknown, long_note = run_client(alice, go)
    assert ev["memory_id"] == m["id"] and ev["agent_id"] == "alice" and ev["verdict"] == "useful"
    assert got["feedback"] == {"useful": 1, "wrong": 1, "harmful": 0}
    assert stats["feedback"] == {"useful": 1, "wrong": 1, "harmful": 0}
    rows = app.feedback.events()
    assert [(r.verdict, r.agent_id, r.note) for r in rows] == [
        ("useful", "alice", None), ("wrong", "alice", "we moved to flake8 again")]
    assert "verdict" in bad and "no memory with id" in unknown and "2000" in long_note
    # feedback goes with its memory
    app.memories.forget(m["id"])
    assert app.feedback.events() == []


def test_forget_right_after_writing_is_trust_evidence(app, alice):
    """Over MCP the caller is an agent: deleting its own memory within the hour (hit and
    run) is recorded against it; the CLI (the operator) records nothing."""
    m = run_client(alice, lambda c: call(c, "remember", {"content": "Release tags are signed with the ops key"}))
    run_client(alice, lambda c: call(c, "forget", {"id": m["id"]}))
    kinds = [r[0] for r in app.conn.execute(
        "SELECT kind FROM trust_evidence WHERE subject_type = 'agent' AND subject_id = 'alice'")]
    assert "deleted_soon_after_write" in kinds


def test_forget_is_permanent(alice):
    async def go(c):
        m = await call(c, "remember", {"content": "Temporary note to delete"})
        gone = await call(c, "forget", {"id": m["id"]})
        after = await fail(c, "get", {"id": m["id"]})
        again = await fail(c, "forget", {"id": m["id"]})
        hits = await call(c, "recall", {"query": "temporary note to delete"})
        return m, gone, after, again, hits

    m, gone, after, again, hits = run_client(alice, go)
    assert gone == {"forgotten": m["id"], "namespace": "default"}
    assert "no memory with id" in after and "no memory with id" in again
    assert m["id"] not in [h["id"] for h in hits["hits"]]


def test_resources(alice):
    async def go(c):
        m = await call(c, "remember", {"content": "Resource check memory"})
        one = await c.read_resource(f"memory://{m['id']}")
        stats = await c.read_resource("memory://stats")
        templates = await c.list_resource_templates()
        try:
            await c.read_resource("memory://01ZZZZZZZZZZZZZZZZZZZZZZZZ")
            missing = None
        except Exception as exc:  # noqa: BLE001
            missing = str(exc)
        return m, one, stats, templates, missing

    import json

    m, one, stats, templates, missing = run_client(alice, go)
    assert json.loads(one[0].text)["id"] == m["id"] and one[0].mime_type == "application/json"
    assert json.loads(stats[0].text)["memories"] == 1
    assert [t.uri_template for t in templates] == ["memory://{id}"]
    assert missing is not None and "no memory with id" in missing


class FakeGraph:
    """Stands in for the knowledge-graph service behind the GraphPort interface."""

    def __init__(self, app):
        self.app = app
        self.seen_filters = []

    def related(self, memory_id, *, limit, filters):
        self.seen_filters.append(filters)
        # the GraphPort contract: filters (the caller's exclusions) apply to every neighbour
        others = [m for m in self.app.memories.list(filters, limit=100) if m.id != memory_id]
        return [{"id": m.id, "namespace": m.namespace, "weight": 0.5, "via": "similar"} for m in others][:limit]

    def communities(self, *, limit, filters):
        self.seen_filters.append(filters)
        return [{"id": 0, "label": "deploy ops", "size": 2}][:limit]


def test_graph_tools_without_and_with_a_graph(app, alice, bob):
    async def seed(c):
        a = await call(c, "remember", {"content": "Shared deploy note", "namespace": "infra"})
        p = await call(c, "remember", {"content": "Private deploy note", "namespace": "alice-private"})
        return a, p

    a, p = run_client(alice, seed)
    real = app.graph
    app._graph = fake = FakeGraph(app)  # the tools only need the GraphPort surface
    try:
        rel_alice = run_client(alice, lambda c: call(c, "related", {"id": a["id"]}))
        rel_bob = run_client(bob, lambda c: call(c, "related", {"id": a["id"]}))
        comm = run_client(bob, lambda c: call(c, "communities", {"limit": 5}))
        hidden = run_client(bob, lambda c: fail(c, "related", {"id": p["id"]}))
    finally:
        app._graph = real
    assert [r["id"] for r in rel_alice["related"]] == [p["id"]]
    assert rel_bob["related"] == []  # alice's private memory is filtered out for bob
    assert comm["communities"] == [{"id": 0, "label": "deploy ops", "size": 2}]
    # the graph is told what bob may not see (labels must not leak it)
    assert "alice-private" in fake.seen_filters[-1].exclude_namespaces
    assert "alice-private" not in fake.seen_filters[0].exclude_namespaces  # alice's own call
    assert "no memory with id" in hidden


def test_private_namespace_is_invisible_to_other_agents(app, alice, bob):
    secret = "The alice signing key lives in vault path secret/alice"

    async def as_alice(c):
        p = await call(c, "remember", {"content": secret, "namespace": "alice-private"})
        s = await call(c, "remember", {"content": "Shared: the signing service is keysmith", "namespace": "shared"})
        mine = await call(c, "recall", {"query": "signing key vault"})
        return p, s, mine

    p, s, mine = run_client(alice, as_alice)
    assert p["id"] in [h["id"] for h in mine["hits"]]

    async def as_bob(c):
        return {
            "recall": await call(c, "recall", {"query": "signing key vault"}),
            "list": await call(c, "list_recent", {"limit": 50}),
            "stats": await call(c, "stats"),
            "get": await fail(c, "get", {"id": p["id"]}),
            "forget": await fail(c, "forget", {"id": p["id"]}),
            "feedback": await fail(c, "feedback", {"id": p["id"], "verdict": "wrong"}),
            "write": await fail(c, "remember", {"content": "bob was here", "namespace": "alice-private"}),
            "ask": await fail(c, "recall", {"query": "key", "namespaces": ["alice-private"]}),
            "list_ns": await fail(c, "list_recent", {"namespace": "alice-private"}),
            "shared": await call(c, "get", {"id": s["id"]}),
        }

    b = run_client(bob, as_bob)
    assert p["id"] not in [h["id"] for h in b["recall"]["hits"]]
    assert s["id"] in [h["id"] for h in b["recall"]["hits"]]
    assert p["id"] not in [m["id"] for m in b["list"]["memories"]]
    assert "alice-private" not in b["stats"]["namespaces"] and "agents" not in b["stats"]
    assert b["stats"]["memories"] == 1
    for key in ("get", "forget", "feedback"):
        assert "no memory with id" in b[key]  # indistinguishable from an unknown id
    for key in ("write", "ask", "list_ns"):
        assert "private to another agent" in b[key]
    assert b["shared"]["id"] == s["id"]
    assert app.memories.get(p["id"]).content == secret  # nothing was deleted


def test_concurrent_calls_on_one_server(app, alice):
    n = 8

    async def go(c):
        writes = [c.call_tool("remember", {"content": f"Concurrent note number {i} about service {i % 5}"})
                  for i in range(n)]
        reads = [c.call_tool("recall", {"query": f"service {i % 5}"}) for i in range(n // 2)]
        res = await asyncio.gather(*writes, *reads)
        return res

    res = run_client(alice, go)
    assert not any(r.is_error for r in res)
    ids = {r.data["id"] for r in res[:n]}
    assert len(ids) == n
    assert all(app.memories.get(i) for i in ids)


def test_write_waits_for_another_process_holding_the_lock(app, alice, settings):
    """Another connection holds the write lock for a while: the call waits, then succeeds."""
    other = sqlite3.connect(str(settings.db_path), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(1.0, lambda: other.execute("COMMIT"))
    release.start()
    try:
        t0 = time.perf_counter()
        m = run_client(alice, lambda c: call(c, "remember", {"content": "written after the lock is released"}))
        waited = time.perf_counter() - t0
    finally:
        release.join()
        other.close()
    assert m["duplicate"] is False and waited >= 0.9


def test_retry_locked_backs_off_then_succeeds():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise StoreBusy("the database is locked by another connection")
        return "ok"

    assert retry_locked(flaky, sleep=sleeps.append) == "ok"
    assert len(calls) == 3 and len(sleeps) == 2 and sleeps[1] > sleeps[0] * 0.9

    def always():
        raise StoreBusy("the database is locked by another connection")

    with pytest.raises(StoreBusy, match="stayed locked after 3 attempts"):
        retry_locked(always, attempts=3, sleep=lambda _: None)

    tries = []

    def other_error():  # a store error that is not contention: raised at once, not retried
        tries.append(1)
        raise StoreError("database disk image is malformed (database is locked)")

    with pytest.raises(StoreError, match="malformed"):
        retry_locked(other_error, sleep=lambda _: None)
    assert tries == [1]


def test_tool_output_uses_the_service(app, alice):
    """A memory written by the CLI/service is visible through the tools, with its provenance."""
    res = app.memories.remember(NewMemory("Written by the CLI", provenance=Provenance(agent_id="cli", tool="cli")))
    got = run_client(alice, lambda c: call(c, "get", {"id": res.memory.id}))
    assert got["provenance"]["agent_id"] == "cli" and got["provenance"]["tool"] == "cli"
