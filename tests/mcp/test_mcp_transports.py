"""Real transports: a `memoryd serve --http` subprocess on 127.0.0.1 (one per module) and a
`memoryd serve --agent` stdio subprocess, with bearer-token checks."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from mcp_helpers import CLI, call, child_env, fail, run_client, start_http_server, stop, wait_listening

from memoryd.app import App
from memoryd.config import Settings
from memoryd.models import NewMemory

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("mcp-home")


@pytest.fixture(scope="module")
def local_app(home, embedder):
    """The operator's view of the same database (to issue and revoke tokens)."""
    a = App(Settings.load(home=home, db=home / "memoryd.db", env={}), embedder=embedder)
    yield a
    a.close()


@pytest.fixture(scope="module")
def tokens(local_app):
    return {
        "alice": local_app.agents.add("alice", ["alice-private"]).token,
        "bob": local_app.agents.add("bob").token,
        **{f"w{i}": local_app.agents.add(f"w{i}").token for i in range(4)},
    }


@pytest.fixture(scope="module")
def http_server(home, tokens):
    """Started early (the stdio test runs first, while this one loads its model)."""
    proc, port, log = start_http_server(home)
    yield proc, port, log
    stop(proc)


@pytest.fixture(scope="module")
def http_url(http_server):
    proc, port, log = http_server
    wait_listening(port, proc, log)
    return f"http://127.0.0.1:{port}/mcp"


def test_stdio_subprocess_identity_from_launch_config(home, tokens, http_server):
    transport = StdioTransport(sys.executable, ["-c", CLI, "serve", "--agent", "carol"], env=child_env(home))

    async def go(c):
        m = await call(c, "remember", {"content": "carol was launched over stdio", "tags": ["stdio"]})
        hits = await call(c, "recall", {"query": "launched over stdio"})
        private = await fail(c, "list_recent", {"namespace": "alice-private"})
        return m, hits, private, await call(c, "stats")

    m, hits, private, stats = run_client(transport, go)
    assert m["agent_id"] == "carol" and stats["agent"] == "carol" and stats["verified"] is False
    assert hits["hits"][0]["id"] == m["id"] and hits["hits"][0]["provenance"]["agent_id"] == "carol"
    assert "private to another agent" in private


def test_stdio_subprocess_with_the_right_token_reads_its_private_namespace(home, tokens, local_app, http_server):
    secret = local_app.memories.remember(NewMemory("The alice notebook lives in the private namespace",
                                                   namespace="alice-private")).memory
    env = {**child_env(home), "MEMORYD_TOKEN": tokens["alice"]}
    with_token = StdioTransport(sys.executable, ["-c", CLI, "serve"], env=env)
    got = run_client(with_token, lambda c: call(c, "get", {"id": secret.id}))
    assert got["namespace"] == "alice-private"
    stolen = StdioTransport(sys.executable, ["-c", CLI, "serve", "--agent", "alice"], env=child_env(home))
    with pytest.raises(Exception):  # a registered name without its token: the server refuses to start
        run_client(stolen, lambda c: call(c, "stats"))


def _cli(home, *args: str) -> str:
    res = subprocess.run([sys.executable, "-c", CLI, *args], env=child_env(home), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_no_leak_when_another_process_forgets_and_writes_a_private_memory(http_url, tokens, home, local_app):
    """The leak of issue 13: the server holds the newest row in RAM; the CLI forgets it and
    stores a memory in alice's private namespace. bob's recall must see neither."""
    def alice(fn):
        return run_client(http_url, fn, auth=tokens["alice"])

    def bob(fn):
        return run_client(http_url, fn, auth=tokens["bob"])

    old = alice(lambda c: call(c, "remember", {"content": "The gateway certificate rotates every Tuesday at noon"}))
    before = bob(lambda c: call(c, "recall", {"query": "gateway certificate rotation Tuesday"}))
    assert before["hits"][0]["id"] == old["id"]  # the server has it in its indexes
    old_rowid = local_app.memories.get(old["id"]).rowid
    _cli(home, "forget", old["id"])
    new_id = json.loads(_cli(home, "add", "The gateway certificate passphrase is hunter2-quokka",
                             "--namespace", "alice-private", "--json"))["id"]
    assert local_app.memories.get(new_id).rowid != old_rowid  # rowids are never reused

    async def bob_recalls(c):
        return [await call(c, "recall", {"query": q}) for q in
                ("gateway certificate rotation Tuesday", "gateway certificate passphrase", "Tuesday noon")]

    seen = [h["id"] for r in bob(bob_recalls) for h in r["hits"]]
    assert old["id"] not in seen and new_id not in seen
    mine = alice(lambda c: call(c, "recall", {"query": "gateway certificate passphrase"}))
    assert mine["hits"][0]["id"] == new_id  # the owner finds it: the index did pick the row up


def _status(url: str, headers: dict) -> int:
    return httpx.post(url, json=INIT, headers={**HEADERS, **headers}, timeout=30).status_code


def test_requests_without_a_valid_token_get_401(http_url, tokens):
    assert _status(http_url, {}) == 401
    assert _status(http_url, {"Authorization": "Bearer md1.alice." + "x" * 43}) == 401
    assert _status(http_url, {"Authorization": "Bearer " + tokens["alice"] + "x"}) == 401
    assert _status(http_url, {"Authorization": "Basic " + tokens["alice"]}) == 401
    assert _status(http_url, {"Authorization": "Bearer " + tokens["alice"]}) == 200
    with pytest.raises(Exception):
        run_client(http_url, lambda c: c.list_tools(), auth="not-a-token")


def test_identity_comes_from_the_token(http_url, tokens, local_app):
    async def as_alice(c):
        p = await call(c, "remember", {"content": "alice's private HTTP note", "namespace": "alice-private"})
        s = await call(c, "remember", {"content": "a shared HTTP note from alice", "namespace": "shared"})
        return p, s, await call(c, "stats")

    p, s, stats = run_client(http_url, as_alice, auth=tokens["alice"])
    assert p["agent_id"] == "alice" and stats["agent"] == "alice"
    # the model and the index were loaded at start (lifespan), before any embedding call
    assert stats["embedding_model"] == "all-MiniLM-L6-v2"

    async def as_bob(c):
        return {
            "get": await fail(c, "get", {"id": p["id"]}),
            "write": await fail(c, "remember", {"content": "x", "namespace": "alice-private"}),
            "recall": await call(c, "recall", {"query": "HTTP note"}),
            "mine": await call(c, "remember", {"content": "bob's HTTP note"}),
        }

    b = run_client(http_url, as_bob, auth=tokens["bob"])
    assert "no memory with id" in b["get"] and "private to another agent" in b["write"]
    ids = [h["id"] for h in b["recall"]["hits"]]
    assert s["id"] in ids and p["id"] not in ids
    assert b["mine"]["agent_id"] == "bob"
    assert local_app.memories.get(b["mine"]["id"]).provenance.agent_id == "bob"


def test_revoked_token_is_refused_from_the_next_request(http_url, local_app):
    token = local_app.agents.add("temp").token

    async def go(c):
        before = await call(c, "stats")
        local_app.agents.revoke("temp")
        try:
            await c.call_tool("stats", {})
            after = "served"
        except Exception as exc:  # noqa: BLE001
            after = str(exc)
        return before, after

    before, after = run_client(http_url, go, auth=token)
    assert before["agent"] == "temp" and after != "served"
    assert _status(http_url, {"Authorization": "Bearer " + token}) == 401


def test_concurrent_agents_over_http_lose_nothing(http_url, tokens, local_app):
    async def agent(i):
        async with Client(http_url, auth=tokens[f"w{i}"]) as c:
            out = []
            for j in range(2):
                out.append((await call(c, "remember", {"content": f"worker {i} note {j}", "namespace": f"w{i}"}))["id"])
                await call(c, "recall", {"query": f"worker {i}"})
            return out

    async def all_agents():
        return await asyncio.gather(*(agent(i) for i in range(4)))

    ids = [i for batch in asyncio.run(all_agents()) for i in batch]
    assert len(set(ids)) == 8
    mems = [local_app.memories.get(i) for i in ids]
    assert {m.provenance.agent_id for m in mems} == {"w0", "w1", "w2", "w3"}
