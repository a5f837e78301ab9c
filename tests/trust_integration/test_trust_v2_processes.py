"""Issue 14 through real processes: the main user path must never turn trust against honest
users. An MCP agent (stdio subprocess) writing notes one at a time, an agent logging a
conversation turn by turn, and an HTTP agent issuing recalls that quote the operator's
memories: nothing is quarantined, search still finds the memories, and the reader moved
nobody's trust."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastmcp.client.transports import StdioTransport

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "mcp"))
from mcp_helpers import CLI, call, child_env, run_client, start_http_server, stop, wait_listening  # noqa: E402

from trust_helpers import conversation, templated_notes  # noqa: E402


def _cli(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-c", CLI, *args], env=child_env(home), input=stdin,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return res


def _quarantined(home: Path) -> list:
    return json.loads(_cli(home, "quarantine", "list", "--json").stdout)


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def test_mcp_agent_writing_templated_notes_one_at_a_time(home):
    notes = templated_notes(120)
    transport = StdioTransport(sys.executable, ["-c", CLI, "serve", "--agent", "journey"], env=child_env(home))

    async def go(c):
        ids = [(await call(c, "remember", {"content": text}))["id"] for text, _ in notes]
        found = 0
        for (text, q), mid in list(zip(notes, ids))[::4]:
            hits = (await call(c, "recall", {"query": q, "limit": 5}))["hits"]
            found += any(h["id"] == mid for h in hits)
            assert all(not h["quarantined"] for h in hits)
        return ids, found

    ids, found = run_client(transport, go)
    assert len(set(ids)) == len(notes)
    assert found >= 0.9 * len(notes[::4])
    assert _quarantined(home) == []
    agent = json.loads(_cli(home, "trust", "explain", "journey", "--json").stdout)
    assert agent["trust"] >= 0.5  # near-duplicates and bursts cost ranking only
    assert all(e["tier"] != "standing" or e["kind"] != "near_duplicate_flood" for e in agent["evidence"])


def test_conversation_logged_turn_by_turn(home):
    turns, questions = conversation()
    transport = StdioTransport(sys.executable, ["-c", CLI, "serve", "--agent", "scribe"], env=child_env(home))

    async def go(c):
        ids = {}
        for t in turns:  # "Thanks!" again and again: duplicates come back as duplicate=true
            r = await call(c, "remember", {"content": t, "namespace": "chat"})
            ids.setdefault(t, r["id"])
        found = 0
        for q, fact in questions:
            hits = (await call(c, "recall", {"query": q, "limit": 5, "namespaces": ["chat"]}))["hits"]
            found += any(h["id"] == ids[fact] for h in hits)
        return found

    found = run_client(transport, go)
    assert found >= len(questions) - 1
    assert _quarantined(home) == []


def test_http_reader_quoting_the_operators_memories_silences_nobody(home):
    notes = templated_notes(12)
    jsonl = "\n".join(json.dumps({"content": text}) for text, _ in notes) + "\n"
    _cli(home, "add", "--jsonl", "-", "--json", stdin=jsonl)
    token = json.loads(_cli(home, "agents", "add", "reader", "--json").stdout)["token"]
    before = json.loads(_cli(home, "trust", "explain", "cli", "--json").stdout)["trust"]
    proc, port, log = start_http_server(home)
    try:
        wait_listening(port, proc, log)

        async def go(c):
            for text, _ in notes:  # the first five words of each memory + "?"
                await call(c, "recall", {"query": " ".join(text.split()[:5]) + "?", "limit": 5})

        run_client(f"http://127.0.0.1:{port}/mcp", go, auth=token)
    finally:
        stop(proc)
    assert _quarantined(home) == []
    after = json.loads(_cli(home, "trust", "explain", "cli", "--json").stdout)
    assert after["trust"] == before  # reads are not evidence against authors
    assert not [e for e in after["evidence"] if e["kind"] == "query_stuffing"]
    hits = json.loads(_cli(home, "search", notes[3][1], "--json", "-k", "5").stdout)
    assert notes[3][0] in [h["content"] for h in hits]
