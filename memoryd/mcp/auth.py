"""Who is calling: bearer tokens over HTTP, the launch configuration over stdio.

Over HTTP every request carries ``Authorization: Bearer <token>``; ``AgentTokenVerifier``
checks it against the salted hashes in the ``agents`` table (fastmcp answers 401 when it
returns None). The agent id recorded as provenance is the row the token matched, so a
client cannot choose it. Over stdio there is no token: the agent id is the one the
server was launched with (``memoryd serve --agent NAME``), fixed for the process.
"""

from __future__ import annotations

import anyio.to_thread
from fastmcp.server.auth import AccessToken, TokenVerifier
from fastmcp.server.dependencies import get_access_token

from ..errors import AuthError
from ..services.agents import AgentService

__all__ = ["AgentTokenVerifier", "Identity"]


class AgentTokenVerifier(TokenVerifier):
    """fastmcp bearer-token verifier backed by memoryd's agents table."""

    def __init__(self, agents: AgentService):
        super().__init__()
        self.agents = agents

    async def verify_token(self, token: str) -> AccessToken | None:
        # the lookup takes app.lock, which a write may hold: keep it off the event loop
        agent_id = await anyio.to_thread.run_sync(self.agents.verify, token)
        if agent_id is None:
            return None
        return AccessToken(token=token, client_id=agent_id, scopes=[], claims={"agent_id": agent_id})


class Identity:
    """Resolves the calling agent for a tool call (call from inside the tool)."""

    def __init__(self, fixed_agent: str | None):
        self.fixed_agent = fixed_agent

    def current(self) -> str:
        if self.fixed_agent is not None:
            return self.fixed_agent
        tok = get_access_token()
        agent = (tok.claims.get("agent_id") or tok.client_id) if tok is not None else None
        if not agent:
            raise AuthError("no agent identity: send 'Authorization: Bearer <token>' (memoryd agents add NAME)")
        return str(agent)
