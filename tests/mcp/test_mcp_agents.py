"""Agents: token issue/verify/revoke/rotate, salted hashes only, private namespaces."""

from __future__ import annotations

import pytest

from memoryd.errors import AuthError, NotFoundError, ValidationError
from memoryd.mcp import create_server
from memoryd.services.agents import agent_of_token, hash_token


def test_token_verifies_only_for_its_agent(app):
    alice = app.agents.add("alice").token
    bob = app.agents.add("bob").token
    assert alice.startswith("md1.alice.") and len(alice) > 50
    assert app.agents.verify(alice) == "alice" and app.agents.verify(bob) == "bob"
    forged = "md1.bob." + alice.split(".", 2)[2]  # alice's secret under bob's name
    for bad in [forged, alice + "x", alice[:-1], "", "md1.alice", "Bearer " + alice, "md1.nobody." + "a" * 43, "x" * 5000]:
        assert app.agents.verify(bad) is None, bad


def test_only_a_salted_hash_is_stored(app):
    token = app.agents.add("carol").token
    row = app.conn.execute("SELECT * FROM agents WHERE id = 'carol'").fetchone()
    dumped = " ".join(str(v) for v in tuple(row))
    assert token not in dumped and token.split(".")[2] not in dumped
    assert row["token_hash"] == hash_token(token, row["token_salt"]) and len(row["token_salt"]) == 32
    # the same token under another salt hashes differently (per-token salt)
    assert hash_token(token, "00" * 16) != row["token_hash"]


def test_revoke_and_rotate(app):
    old = app.agents.add("dave").token
    app.agents.revoke("dave")
    assert app.agents.verify(old) is None and app.agents.get("dave").disabled
    new = app.agents.rotate("dave").token
    assert app.agents.verify(new) == "dave" and app.agents.verify(old) is None
    with pytest.raises(NotFoundError):
        app.agents.revoke("nobody")
    with pytest.raises(NotFoundError):
        app.agents.rotate("nobody")


def test_names_and_duplicates(app):
    app.agents.add("erin")
    with pytest.raises(ValidationError, match="already exists"):
        app.agents.add("erin")
    for bad in ["", "has space", "dot.name", "-lead", "x" * 65, "a/b"]:
        with pytest.raises(ValidationError):
            app.agents.add(bad)
    assert agent_of_token("md1.erin." + "a" * 43) == "erin" and agent_of_token("nope") is None


def test_private_namespaces(app):
    app.agents.add("frank", ["frank-notes"])
    app.agents.add("grace")
    app.agents.make_private("grace", "grace-notes")
    app.agents.make_private("grace", "grace-notes")  # idempotent
    with pytest.raises(ValidationError, match="already private to agent 'frank'"):
        app.agents.make_private("grace", "frank-notes")
    with pytest.raises(NotFoundError):
        app.agents.make_private("nobody", "x")
    with pytest.raises(ValidationError):
        app.agents.add("heidi", ["bad namespace"])
    assert app.agents.get("grace").private_namespaces == ("grace-notes",)
    acc = app.agents.access("frank")
    assert acc.denied == {"grace-notes"} and acc.can_use("frank-notes") and not acc.can_use("grace-notes")
    assert app.agents.access("stranger").denied == {"frank-notes", "grace-notes"}
    # a failed add leaves nothing behind
    assert [a.id for a in app.agents.list()] == ["frank", "grace"]


def test_stdio_server_refuses_a_revoked_agent(app):
    app.agents.add("ivan")
    app.agents.revoke("ivan")
    with pytest.raises(AuthError):
        create_server(app, agent_id="ivan")
    with pytest.raises(ValueError):
        create_server(app)  # neither a launch identity nor tokens
    with pytest.raises(ValidationError):
        create_server(app, agent_id="not valid")
