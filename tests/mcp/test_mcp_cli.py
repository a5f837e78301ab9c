"""`memoryd agents ...` and `memoryd mcp-config ...`, and the examples/ they generate.

Regenerate examples/ after a deliberate change: `.venv/bin/python tests/mcp/test_mcp_cli.py`.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memoryd.cli import app as cli
from memoryd.mcp.clients import CLIENTS, client_snippets

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_URL = "http://127.0.0.1:8765/mcp"


@pytest.fixture
def run(tmp_path):
    db = tmp_path / "cli.db"

    def _run(*args):
        return runner.invoke(cli, ["--db", str(db), *args])

    return _run


def _json(res):
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_agents_add_list_private_revoke_rotate(run):
    added = _json(run("agents", "add", "alice", "--private-namespace", "alice-notes", "--json"))
    assert added["id"] == "alice" and added["token"].startswith("md1.alice.")
    assert added["private_namespaces"] == ["alice-notes"]
    human = run("agents", "add", "bob")
    assert human.exit_code == 0 and "md1.bob." in human.stdout and "shown once" in human.stdout
    dup = run("agents", "add", "bob")
    assert dup.exit_code == 2 and "already exists" in dup.stderr
    assert _json(run("agents", "private", "bob", "bob-notes", "--json"))["private_namespaces"] == ["bob-notes"]
    clash = run("agents", "private", "bob", "alice-notes")
    assert clash.exit_code == 2 and "already private to agent 'alice'" in clash.stderr
    listed = _json(run("agents", "list", "--json"))
    assert [(a["id"], a["disabled"]) for a in listed] == [("alice", False), ("bob", False)]
    assert all("token" not in a for a in listed)
    assert _json(run("agents", "revoke", "alice", "--json"))["disabled"] is True
    missing = run("agents", "revoke", "nobody")
    assert missing.exit_code == 4 and "no agent named" in missing.stderr
    rotated = _json(run("agents", "rotate", "alice", "--json"))
    assert rotated["disabled"] is False and rotated["token"] != added["token"]
    assert "alice" in run("agents", "list").stdout


@pytest.mark.parametrize("client", CLIENTS)
def test_mcp_config_snippets_parse(run, client):
    stdio = _json(run("mcp-config", client, "--json"))
    http = _json(run("mcp-config", client, "--http", EXAMPLE_URL, "--token", "md1.x.secret", "--json"))
    assert stdio["transport"] == "stdio" and http["transport"] == "http"
    for snip in stdio["snippets"] + http["snippets"]:
        if snip["language"] == "json":
            json.loads(snip["text"])
        elif snip["language"] == "toml":
            tomllib.loads(snip["text"])
    stdio_text = "".join(s["text"] for s in stdio["snippets"])
    http_text = "".join(s["text"] for s in http["snippets"])
    # the client's server opens the same database and runs as a named agent
    assert "--db" in stdio_text and "serve" in stdio_text and "--agent" in stdio_text
    assert EXAMPLE_URL in http_text
    assert "md1.x.secret" in http_text or "MEMORYD_TOKEN" in http_text


def test_mcp_config_shapes(run):
    codex = tomllib.loads(_json(run("mcp-config", "codex", "--agent", "codex-main", "--json"))["snippets"][0]["text"])
    server = codex["mcp_servers"]["memoryd"]
    assert server["args"][-3:] == ["serve", "--agent", "codex-main"] and server["command"]
    codex_http = _json(run("mcp-config", "codex", "--http", EXAMPLE_URL, "--json"))["snippets"]
    assert tomllib.loads(codex_http[0]["text"])["mcp_servers"]["memoryd"] == {
        "url": EXAMPLE_URL, "bearer_token_env_var": "MEMORYD_TOKEN"}
    vscode = json.loads(_json(run("mcp-config", "vscode", "--json"))["snippets"][0]["text"])
    assert vscode["servers"]["memoryd"]["type"] == "stdio"
    cc = _json(run("mcp-config", "claude-code", "--http", EXAMPLE_URL, "--token", "tok", "--json"))["snippets"]
    assert cc[0]["text"].startswith("claude mcp add --scope user --transport http memoryd " + EXAMPLE_URL)
    assert "'Authorization: Bearer tok'" in cc[0]["text"]
    human = run("mcp-config", "cursor")
    assert human.exit_code == 0 and '"mcpServers"' in human.stdout
    # stdio with a token: the token goes into the launch environment and names the agent
    stdio_tok = json.loads(_json(run("mcp-config", "cursor", "--token", "md1.carol.secret", "--json"))["snippets"][0]["text"])
    assert stdio_tok["mcpServers"]["memoryd"]["env"] == {"MEMORYD_TOKEN": "md1.carol.secret"}
    assert stdio_tok["mcpServers"]["memoryd"]["args"][-1] == "serve"
    codex_tok = tomllib.loads(_json(run("mcp-config", "codex", "--token", "md1.c.s", "--json"))["snippets"][0]["text"])
    assert codex_tok["mcp_servers"]["memoryd"]["env"] == {"MEMORYD_TOKEN": "md1.c.s"}
    for bad, msg in [(("mcp-config", "emacs"), "unknown client"),
                     (("mcp-config", "cursor", "--http", "ftp://x"), "URL"),
                     (("mcp-config", "cursor", "--agent", "bad name"), "invalid agent")]:
        res = run(*bad)
        assert res.exit_code == 2 and msg in res.stderr, (bad, res.stderr)


def _suffix(snippet) -> str:
    if snippet.where == ".mcp.json":
        return ".mcp.json"
    return {"sh": ".sh", "json": ".json", "toml": ".toml"}[snippet.language]


def example_files() -> dict[str, str]:
    """examples/<transport>/<client><suffix> for every client, as `memoryd mcp-config` prints them."""
    out: dict[str, str] = {}
    for client in CLIENTS:
        for transport, url in (("stdio", None), ("http", EXAMPLE_URL)):
            for s in client_snippets(client, command=["memoryd"], url=url):
                out[f"{transport}/{client}{_suffix(s)}"] = s.text
    return out


def test_examples_match_mcp_config():
    for rel, text in example_files().items():
        path = EXAMPLES / rel
        assert path.exists(), f"missing {path}: run .venv/bin/python tests/mcp/test_mcp_cli.py"
        assert path.read_text() == text, f"{path} is stale: run .venv/bin/python tests/mcp/test_mcp_cli.py"
    assert (EXAMPLES / "python_client.py").exists()


if __name__ == "__main__":
    for rel, text in example_files().items():
        (EXAMPLES / rel).parent.mkdir(parents=True, exist_ok=True)
        (EXAMPLES / rel).write_text(text)
        print("wrote", EXAMPLES / rel)
