"""Several processes writing one store at once, as a user runs them: two shell loops of
`memoryd add` and a `memoryd serve` over stdio storing through MCP the whole time. Nothing is
lost, nothing is stored twice, no "database is locked" reaches anyone, and every memory has
its full-text entry and its vector."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "mcp"))
from mcp_helpers import CLI, child_env  # noqa: E402

MEMORYD = str(Path(sys.executable).parent / "memoryd")
PER_LOOP = 12


@pytest.mark.slow
def test_two_add_loops_and_an_mcp_server_lose_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = child_env(home)
    subprocess.run([MEMORYD, "add", "the store exists before the writers start"], env=env, check=True,
                   capture_output=True, timeout=120)
    loops = [subprocess.Popen(["bash", "-c", f'for i in $(seq 1 {PER_LOOP}); do "{MEMORYD}" add --json '
                               f'"loop {tag} memory $i about gardening" >/dev/null || echo "failed $i: exit $?"; done'],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for tag in "AB"]

    async def mcp_writer() -> tuple[int, list[str]]:
        errors: list[str] = []
        stored = 0
        transport = StdioTransport(sys.executable, ["-c", CLI, "serve", "--agent", "srv"], env=env)
        async with Client(transport) as c:
            while any(p.poll() is None for p in loops) or stored < PER_LOOP:  # through the loops' whole run
                r = await c.call_tool("remember", {"content": f"mcp memory {stored} about sailing",
                                                   "namespace": "default"}, raise_on_error=False)
                if r.is_error:
                    errors.append(r.content[0].text)
                else:
                    stored += 1
        return stored, errors

    stored, errors = asyncio.run(mcp_writer())
    outs = [p.communicate(timeout=600) for p in loops]
    assert errors == []
    for out, err in outs:
        assert "failed" not in out and "locked" not in err and "Traceback" not in err, (out, err)
    st = json.loads(subprocess.run([MEMORYD, "stats", "--json"], env=env, capture_output=True, text=True,
                                   timeout=120).stdout)
    assert st["memories"] == 1 + 2 * PER_LOOP + stored and st["vectors"] == st["memories"]
    for tag in "AB":
        hits = json.loads(subprocess.run([MEMORYD, "search", f"loop {tag} memory about gardening", "--limit", "100",
                                          "--legs", "bm25", "--json"], env=env, capture_output=True, text=True,
                                         timeout=120).stdout)
        assert {h["content"] for h in hits if h["content"].startswith(f"loop {tag} ")} == {
            f"loop {tag} memory {i} about gardening" for i in range(1, PER_LOOP + 1)}
