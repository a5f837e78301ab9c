"""Fixtures for the MCP tests: agents and servers built from the test App."""

from __future__ import annotations

import pytest

from memoryd.mcp import create_server


@pytest.fixture
def agents(app):
    """alice owns the private namespace 'alice-private'; bob owns nothing."""
    return {
        "alice": app.agents.add("alice", ["alice-private"]).token,
        "bob": app.agents.add("bob").token,
    }


@pytest.fixture
def alice(app, agents):
    """alice's server, identified by her token (as `MEMORYD_TOKEN=... memoryd serve`)."""
    return create_server(app, token=agents["alice"])


@pytest.fixture
def bob(app, agents):
    return create_server(app, token=agents["bob"])
