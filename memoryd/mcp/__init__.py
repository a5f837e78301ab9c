"""memoryd's MCP server (fastmcp): tools and resources as thin adapters over the services.

    create_server(app, agent_id="claude")      stdio / in-memory: identity from launch config
    create_server(app, require_token=True)     HTTP: identity from the bearer token (401 otherwise)

Modules: ``server`` (composition, lifespan, resources), ``tools`` (the tools),
``auth`` (token verifier, caller identity), ``retry`` (SQLite contention),
``clients`` (configuration snippets for MCP clients).
"""

from .auth import AgentTokenVerifier, Identity
from .server import INSTRUCTIONS, create_server
from .tools import TOOL_NAMES, GraphPort

__all__ = ["create_server", "AgentTokenVerifier", "Identity", "GraphPort", "TOOL_NAMES", "INSTRUCTIONS"]
