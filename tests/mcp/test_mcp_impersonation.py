"""Name impersonation over stdio: an unverified `memoryd serve --agent NAME` may not take a
registered agent's name, and a change of case is the same name to a reader (a recall hit
'by Alice' reads as alice's). Real subprocesses: the CLI registers, the server refuses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastmcp.client.transports import StdioTransport
from mcp_helpers import CLI, call, child_env, run_client


def _cli(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI, *args], env=child_env(home), capture_output=True, text=True,
                          timeout=300)


def test_a_case_variant_of_a_registered_name_is_refused(tmp_path):
    assert _cli(tmp_path, "agents", "add", "alice", "--json").returncode == 0
    for name in ("Alice", "ALICE"):
        spoof = StdioTransport(sys.executable, ["-c", CLI, "serve", "--agent", name, "--project", "none"],
                               env=child_env(tmp_path))
        with pytest.raises(Exception):  # the server refuses to start, as for 'alice' itself
            run_client(spoof, lambda c: call(c, "stats"))
    twin = _cli(tmp_path, "agents", "add", "Alice", "--json")
    assert twin.returncode != 0 and "alice" in twin.stderr
    other = StdioTransport(sys.executable, ["-c", CLI, "serve", "--agent", "alicia", "--project", "none"],
                           env=child_env(tmp_path))
    assert run_client(other, lambda c: call(c, "stats"))["agent"] == "alicia"  # other names still run
    listed = json.loads(_cli(tmp_path, "agents", "list", "--json").stdout)
    assert [a["id"] if isinstance(a, dict) else a for a in (listed if isinstance(listed, list) else listed["agents"])] == ["alice"]
