"""Resource exhaustion through tool arguments, against a real `memoryd serve` subprocess: a
memory within the size limit must not hold the server (and its lock, so every other
agent's call) for long. A 32 KiB run of '1.1.1...' took ~20 s in entity extraction on the
write path (graph linker) and again on every `related` call on it."""

from __future__ import annotations

import sys
import time

from fastmcp.client.transports import StdioTransport
from mcp_helpers import CLI, call, child_env, run_client
from timing import budget


def test_pathological_content_is_stored_without_pinning_the_server(tmp_path):
    transport = StdioTransport(sys.executable, ["-c", CLI, "serve", "--agent", "mallory", "--project", "none"],
                               env=child_env(tmp_path))

    async def go(c):
        await call(c, "remember", {"content": "warm up the model and the indexes"})
        took = {}
        for unit in ("1.", ".1", "a.1"):
            t0 = time.perf_counter()
            m = await call(c, "remember", {"content": (unit * 16384)[:32000]})
            await call(c, "related", {"id": m["id"]})
            took[unit] = time.perf_counter() - t0
        return took

    took = run_client(transport, go)
    assert max(took.values()) < budget(4.0), took
