"""remember's `similar` hint quotes up to 200 characters of a nearly identical memory: it must
follow what recall shows (no quarantined memory, no other agent's private namespace)."""

from __future__ import annotations

from mcp_helpers import call, fail, run_client

from memoryd.mcp import create_server
from memoryd.models import NewMemory, Provenance

HIDDEN = "The billing worker of orion-api listens on port 8125 and retries three times."


def test_similar_hint_never_shows_a_quarantined_memory(app):
    hidden = HIDDEN
    bad = app.memories.remember(NewMemory(hidden, namespace="ops", provenance=Provenance("mallory"))).memory
    app.trust.flag("mallory")
    assert bad.id in {q.memory.id for q in app.trust.quarantined()}
    server = create_server(app, agent_id="alice")

    async def go(c):
        hint = await call(c, "remember", {"content": hidden.replace("three", "3"), "namespace": "ops"})
        found = await call(c, "recall", {"query": "orion-api billing worker port", "namespaces": ["ops"]})
        return hint, found

    hint, found = run_client(server, go)
    assert bad.id not in {h["id"] for h in found["hits"]}  # what recall does
    assert "similar" not in hint or hint["similar"]["id"] != bad.id, hint
    # a trusted near-duplicate is still named
    app.trust.release(bad.id)
    again = run_client(server, lambda c: call(c, "remember", {"content": hidden.replace("three", "four"),
                                                               "namespace": "ops"}))
    assert again["similar"]["id"] in {bad.id, hint["id"]}


def test_similar_hint_stays_inside_what_the_caller_may_read(app):
    app.agents.add("bob", private_namespaces=("bob-notes",))
    app.memories.remember(NewMemory(HIDDEN, namespace="bob-notes", provenance=Provenance("bob")))
    server = create_server(app, agent_id="alice")
    msg = run_client(server, lambda c: fail(c, "remember", {"content": HIDDEN.replace("three", "3"),
                                                              "namespace": "bob-notes"}))
    assert "private to another agent" in msg and "8125" not in msg
