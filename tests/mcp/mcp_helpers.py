"""MCP test helpers: in-memory clients, subprocess servers (imported as mcp_helpers)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastmcp import Client

from memoryd.bench.harness import CLI, child_env, free_port, stop, wait_listening
from memoryd.bench.harness import start_http_server as _start_http

__all__ = ["CLI", "call", "child_env", "fail", "free_port", "run_client", "start_http_server", "stop",
           "wait_listening"]


def run_client(target: Any, fn: Callable[[Client], Awaitable[Any]], **client_kw: Any) -> Any:
    """Open one client session on `target` (a server, URL or transport) and run fn(client)."""

    async def go() -> Any:
        async with Client(target, **client_kw) as client:
            return await fn(client)

    return asyncio.run(go())


async def call(client: Client, name: str, args: dict | None = None) -> Any:
    """Call a tool that must succeed; return its structured data."""
    res = await client.call_tool(name, args or {})
    return res.data


async def fail(client: Client, name: str, args: dict | None = None) -> str:
    """Call a tool that must fail with a tool error; return the message."""
    res = await client.call_tool(name, args or {}, raise_on_error=False)
    assert res.is_error, f"{name}({args}) unexpectedly succeeded: {res.data}"
    return res.content[0].text


# ---- subprocess servers: the benches' harness, with a test home ---------------------------------
def start_http_server(home: Path) -> tuple[subprocess.Popen, int, Path]:
    """Launch `memoryd serve --http` on a free port with an environment pointing at `home`;
    does not wait (see wait_listening)."""
    server = _start_http([], home / "server.log", child_env(home))
    return server.proc, server.port, server.log
