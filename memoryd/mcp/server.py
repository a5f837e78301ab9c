"""Build the fastmcp server from an App: tools, resources, lifespan, auth."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastmcp import FastMCP
from fastmcp.exceptions import ResourceError

from .. import __version__
from ..errors import AuthError, MemorydError
from ..project import ProjectScope
from ..services.agents import TOKEN_ENV, validate_agent_name
from .auth import AgentTokenVerifier, Identity
from .retry import retry_locked
from .tools import Tools

if TYPE_CHECKING:
    from ..app import App

__all__ = ["create_server", "start_warming", "INSTRUCTIONS"]

log = logging.getLogger(__name__)

INSTRUCTIONS = """\
memoryd is your long-term memory, shared with the other agents of this user.
- At the start of a task, call recall with what you are about to work on.
- When you learn something durable (a decision and its reason, a convention, a fact about
  the code or environment, a user preference), call remember with one self-contained note.
- After acting on a recalled memory, call feedback: useful, wrong or harmful.
- forget deletes permanently; prefer feedback 'wrong' for outdated facts.
Namespaces group memories by project; some namespaces are private to their owner agent."""


def _warm(app: App) -> None:
    """Load the embedding model and the vector index now, so the first call does not."""
    index = app.memories.index  # waits for the model, loads vectors from the database
    app.memories.embed_query("warm up")
    log.info("memoryd MCP server ready: %d vectors, model %s", len(index), app.embedder.name)


def start_warming(app: App, on_ready: Callable[[], None] | None = None) -> threading.Thread:
    """Load the model and the indexes on a background thread and return it.

    The services are built here, on the caller's thread (cheap: the model itself loads on
    the embedder's own thread), so that tool calls never race to build them. While the
    thread loads the indexes it holds the App's lock: a tool call that needs them waits for
    it, while MCP initialize and tools/list are answered at once."""
    app.memories  # noqa: B018 - construct services (and start the model loading) now

    def run() -> None:
        try:
            _warm(app)
        except Exception as exc:  # noqa: BLE001 - the first call that needs the model reports it
            log.warning("memoryd: loading the model or the index failed: %s", exc)
            return
        if on_ready is not None:
            on_ready()

    thread = threading.Thread(target=run, name="memoryd-warm", daemon=True)
    thread.start()
    return thread


def create_server(
    app: App,
    *,
    agent_id: str | None = None,
    token: str | None = None,
    require_token: bool = False,
    name: str = "memoryd",
    on_ready: Callable[[], None] | None = None,
    project: ProjectScope | None = None,
) -> FastMCP:
    """The MCP server over an open App (the caller owns and closes the App).

    - stdio / in-memory with ``token``: the agent the token belongs to, with its scopes
      and private namespaces, for every call (``agent_id``, if given, must match).
    - stdio / in-memory with ``agent_id`` only: an unverified agent of that name: default
      scopes, no private namespace readable; the name of a registered agent is refused.
    - HTTP: ``require_token=True``; every request must carry a bearer token issued by
      ``memoryd agents add`` and the token decides the agent (401 otherwise).

    The server answers MCP ``initialize`` and ``tools/list`` at once; the model and the
    indexes load on a background thread (``start_warming``) and the first call that needs
    them waits. ``on_ready`` is called (on that thread) once they are loaded.

    ``project``: the client's project (``project.resolve_project``); ``remember`` then writes
    to its namespace and ``recall`` reads it plus the shared ones unless told otherwise.
    """
    fixed = token is not None or agent_id is not None
    if require_token == fixed:
        raise ValueError("give agent_id and/or token (stdio) or require_token=True (HTTP), not both")
    identity = Identity(app.agents)
    if token is not None:
        verified = app.agents.verify(token)
        if verified is None:
            raise AuthError(f"the agent token ({TOKEN_ENV}) is not valid: unknown, revoked or rotated "
                            "(memoryd agents rotate NAME issues a new one)")
        if agent_id is not None and agent_id != verified:
            raise AuthError(f"--agent {agent_id} does not match the token, which belongs to {verified!r}")
        identity = Identity(app.agents, verified, token=token)
    elif agent_id is not None:
        validate_agent_name(agent_id)
        app.agents.unverified(agent_id)  # a registered (or revoked) name needs its token
        identity = Identity(app.agents, agent_id)

    @asynccontextmanager
    async def lifespan(server: FastMCP) -> AsyncIterator[dict[str, Any]]:
        start_warming(app, on_ready)
        sweeper = app.start_erasure_sweeper()  # finish erasures left pending (docs/erasure.md)
        try:
            yield {}
        finally:
            if sweeper is not None:
                sweeper.stop()

    server = FastMCP(
        name,
        instructions=INSTRUCTIONS,
        version=__version__,
        auth=AgentTokenVerifier(app.agents) if require_token else None,
        lifespan=lifespan,
        mask_error_details=True,  # unexpected exceptions: a generic message, no internals
        on_duplicate="error",
    )
    tools = Tools(app, identity, project)
    tools.register(server)
    _register_resources(server, tools)
    return server


def _register_resources(server: FastMCP, tools: Tools) -> None:
    def read(fn: Callable[[], dict[str, Any]]) -> str:
        try:
            return json.dumps(retry_locked(fn), ensure_ascii=False)
        except MemorydError as exc:
            raise ResourceError(str(exc), log_level=logging.INFO) from None

    @server.resource("memory://{id}", name="memory", title="A memory", mime_type="application/json")
    def memory(id: str) -> str:
        """One memory by id, with its provenance and feedback counts."""
        return read(lambda: tools.memory_data(id))

    @server.resource("memory://stats", name="stats", title="Memory statistics", mime_type="application/json")
    def stats() -> str:
        """Counts per namespace you can read, database size, model and schema version."""
        return read(tools.stats_data)
