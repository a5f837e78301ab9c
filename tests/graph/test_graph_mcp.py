"""The MCP `related` and `communities` tools against the real graph service: another
agent's private memories never appear, not even as label words."""

from __future__ import annotations

import asyncio

from fastmcp import Client

from memoryd.mcp import create_server


def _run(server, fn):
    async def go():
        async with Client(server) as c:
            return await fn(c)

    return asyncio.run(go())


async def _call(c, name, args=None):
    return (await c.call_tool(name, args or {})).data


def test_related_and_communities_through_mcp(app):
    tok_a = app.agents.add("alice", ["alice-private"]).token
    tok_b = app.agents.add("bob").token
    alice, bob = create_server(app, token=tok_a), create_server(app, token=tok_b)  # registered: by token
    shared = ["The sync job qx_relay_44 copies invoices to the ledger every hour.",
              "If qx_relay_44 stalls, restart it with make restart-relay.",
              "The ledger API listens on port 8443 behind nginx.",
              "Invoices older than a year are archived to cold storage."]
    secret = "Alice's note: qx_relay_44 uses the Zanzibarite credential from vault."

    async def seed(c):
        ids = [(await _call(c, "remember", {"content": t, "namespace": "ops"}))["id"] for t in shared]
        ids.append((await _call(c, "remember", {"content": secret, "namespace": "alice-private"}))["id"])
        return ids

    ids = _run(alice, seed)
    app.graph.rebuild()
    rel_a = _run(alice, lambda c: _call(c, "related", {"id": ids[0], "limit": 10}))
    rel_b = _run(bob, lambda c: _call(c, "related", {"id": ids[0], "limit": 10}))
    assert ids[4] in {r["id"] for r in rel_a["related"]} and ids[1] in {r["id"] for r in rel_a["related"]}
    assert ids[4] not in {r["id"] for r in rel_b["related"]} and ids[1] in {r["id"] for r in rel_b["related"]}
    hop = next(r for r in rel_b["related"] if r["id"] == ids[1])
    assert "code:qx_relay_44" in hop["entities"]

    comm_a = _run(alice, lambda c: _call(c, "communities", {"limit": 10}))
    comm_b = _run(bob, lambda c: _call(c, "communities", {"limit": 10}))
    assert sum(x["size"] for x in comm_a["communities"]) == 5
    assert sum(x["size"] for x in comm_b["communities"]) == 4
    assert "zanzibarite" not in str(comm_b).lower()
