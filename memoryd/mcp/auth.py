"""Who is calling: bearer tokens over HTTP, the launch configuration over stdio.

Over HTTP every request carries ``Authorization: Bearer <token>``; ``AgentTokenVerifier``
checks it against the salted hashes in the ``agents`` table (fastmcp answers 401 when it
returns None). The agent id recorded as provenance is the row the token matched, so a
client cannot choose it. Over stdio the token comes from the environment of
``memoryd serve`` (``MEMORYD_TOKEN``, checked at start); without one the server runs as an
unverified agent named by ``--agent``, which reads no private namespace (docs/security.md).
"""

from __future__ import annotations

import anyio.to_thread
from fastmcp.server.auth import AccessToken, TokenVerifier
from fastmcp.server.dependencies import get_access_token

from ..errors import AuthError
from ..services.agents import AgentService
from ..services.authority import Caller

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
    """Resolves the caller of a tool call (call from inside the tool).

    - stdio with a token (``MEMORYD_TOKEN``): the verified agent, read fresh on every call
      (token verified again: revoked, rotated or re-scoped takes effect at the next call);
    - stdio without a token: an unverified agent by name (no private namespaces);
    - HTTP: the agent whose bearer token fastmcp verified for this request.
    """

    def __init__(self, agents: AgentService, fixed_agent: str | None = None, *, token: str | None = None):
        self.agents = agents
        self.fixed_agent = fixed_agent
        self.token = token  # stdio: checked again on every call (rotate or revoke: refused from then on)

    def caller(self) -> Caller:
        if self.token is not None:
            agent = self.agents.verify(self.token)
            if agent is None:
                raise AuthError("this server's agent token is no longer valid (revoked or rotated): "
                                "restart it with the new token in MEMORYD_TOKEN")
            return self.agents.caller(agent)
        if self.fixed_agent is not None:
            return self.agents.unverified(self.fixed_agent)
        tok = get_access_token()
        agent = (tok.claims.get("agent_id") or tok.client_id) if tok is not None else None
        if not agent:
            raise AuthError("no agent identity: send 'Authorization: Bearer <token>' (memoryd agents add NAME)")
        return self.agents.caller(str(agent))

    def current(self) -> str:
        return self.caller().agent_id
