"""Smoke test of an INSTALLED memoryd (a wheel in a fresh venv), run from outside the checkout.

    python .ci/smoke_installed.py /path/to/venv/bin/memoryd

Run it with the venv's own python (it needs fastmcp, which memoryd depends on). It checks that
the installed package does not come from this checkout, then runs `--version`, `add`, `search`
and `serve` (an MCP initialize, tools/list and one recall over stdio) in a temporary home.
Exits non-zero with a message on the first failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
FACT = "The staging DB listens on port 6432 behind pgbouncer"


def fail(msg: str) -> None:
    sys.exit(f"smoke: FAILED: {msg}")


def run(exe: str, *args: str, env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run([exe, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        fail(f"memoryd {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


async def mcp_round(exe: str, env: dict[str, str], cwd: Path) -> tuple[set[str], list[dict]]:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    transport = StdioTransport(exe, ["serve", "--agent", "smoke"], env=env, cwd=str(cwd))
    async with Client(transport, timeout=600) as client:  # connecting = MCP initialize
        tools = {t.name for t in await client.list_tools()}
        res = await client.call_tool("recall", {"query": "which port does staging postgres use?"})
    return tools, res.data["hits"]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    exe = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="memoryd-smoke-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYD_") and k != "PYTHONPATH"}
        env["MEMORYD_HOME"] = str(work / "home")
        where = subprocess.run([str(Path(exe).parent / "python"), "-c", "import memoryd; print(memoryd.__file__)"],
                               env=env, cwd=work, capture_output=True, text=True).stdout.strip()
        if not where or Path(where).resolve().is_relative_to(CHECKOUT):
            fail(f"memoryd is imported from {where or '?'}, not from the installed package")
        print(f"smoke: memoryd imported from {where}")
        print("smoke:", run(exe, "--version", env=env, cwd=work).strip())
        added = json.loads(run(exe, "add", FACT, "-t", "ops", "--json", env=env, cwd=work))
        hits = json.loads(run(exe, "search", "which port does staging postgres use?", "--json", env=env, cwd=work))
        if not hits or hits[0]["id"] != added["id"]:
            fail(f"search did not find the memory just added: {hits!r:.300}")
        print(f"smoke: add + search ok ({added['id']})")
        tools, mcp_hits = asyncio.run(mcp_round(exe, env, work))
        if not {"remember", "recall"} <= tools:
            fail(f"serve lists tools {sorted(tools)}")
        if not mcp_hits or mcp_hits[0]["id"] != added["id"]:
            fail(f"MCP recall did not find the memory: {mcp_hits!r:.300}")
        print(f"smoke: serve ok (initialize, {len(tools)} tools, recall found {added['id']})")


if __name__ == "__main__":
    main()
