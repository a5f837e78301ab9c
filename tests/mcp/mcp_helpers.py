"""MCP test helpers: in-memory clients, subprocess servers (imported as mcp_helpers)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastmcp import Client


CLI = "from memoryd.cli import main; main()"


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


# ---- subprocess servers ---------------------------------------------------------------------
def child_env(home: Path) -> dict[str, str]:
    """Explicit environment: a stdio child does not inherit ours."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(home)),
        "MEMORYD_HOME": str(home),
        "MEMORYD_DB": str(home / "memoryd.db"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "FASTMCP_LOG_LEVEL": "WARNING",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, log: Path, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server not listening after {timeout} s:\n{log.read_text()[-3000:]}")


def start_http_server(home: Path) -> tuple[subprocess.Popen, int, Path]:
    """Launch `memoryd serve --http` on a free port; does not wait (see wait_listening)."""
    port = free_port()
    log = home / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "serve", "--http", "--host", "127.0.0.1", "--port", str(port)],
            env=child_env(home), stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
        )
    return proc, port, log


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
