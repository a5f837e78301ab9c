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
from memoryd.mcp.clients import CLIENTS, client_config

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_URL = "http://127.0.0.1:8765/mcp"


@pytest.fixture
def run(tmp_path):
    db = tmp_path / "cli.db"

    def _run(*args):
        return runner.invoke(cli, ["--db", str(db), *args], env={"MEMORYD_HOME": None, "MEMORYD_DB": None})

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


def _parse(fmt: str, text: str) -> dict:
    return tomllib.loads(text) if fmt == "toml" else json.loads(text)


@pytest.mark.parametrize("client", CLIENTS)
def test_mcp_config_prints_only_the_file(run, tmp_path, client):
    stdio = run("mcp-config", client, "--with-token")
    assert stdio.exit_code == 0, stdio.output
    fmt = "toml" if client == "codex" else "json"
    doc = _parse(fmt, stdio.stdout)  # stdout is exactly the file: `> FILE` works
    root = {"codex": "mcp_servers", "vscode": "servers"}.get(client, "mcpServers")
    entry = doc[root]["memoryd"]
    assert entry["command"] == "memoryd"  # portable: memoryd on PATH
    assert entry["args"] == ["serve", "--agent", client]
    # the settings that are not defaults travel in env, so the client's server opens the same store
    assert entry["env"]["MEMORYD_DB"] == str((tmp_path / "cli.db").absolute())
    assert entry["env"]["MEMORYD_HOME"] == str(tmp_path.absolute())
    assert "doctor --warm" in stdio.stderr
    token_ref = {"claude-code": "${MEMORYD_TOKEN}", "cursor": "${env:MEMORYD_TOKEN}", "vscode": "${env:MEMORYD_TOKEN}"}
    if client in token_ref:
        assert entry["env"]["MEMORYD_TOKEN"] == token_ref[client]
    elif client == "codex":
        assert entry["env_vars"] == ["MEMORYD_TOKEN"] and entry["startup_timeout_sec"] >= 30
    else:
        assert "MEMORYD_TOKEN" not in entry["env"] and "MEMORYD_TOKEN" in stdio.stderr
    http = _json(run("mcp-config", client, "--http", EXAMPLE_URL, "--json"))
    assert http["transport"] == "http"
    http_doc = _parse(http["format"], http["content"])
    assert EXAMPLE_URL in json.dumps(http_doc) and "md1." not in http["content"]


def test_mcp_config_shapes_and_errors(run):
    codex = tomllib.loads(_json(run("mcp-config", "codex", "--agent", "codex-main", "--json"))["content"])
    server = codex["mcp_servers"]["memoryd"]
    assert server["args"] == ["serve", "--agent", "codex-main"] and server["startup_timeout_sec"] == 60
    codex_http = tomllib.loads(_json(run("mcp-config", "codex", "--http", EXAMPLE_URL, "--json"))["content"])
    assert codex_http["mcp_servers"]["memoryd"] == {"url": EXAMPLE_URL, "bearer_token_env_var": "MEMORYD_TOKEN"}
    cursor = json.loads(_json(run("mcp-config", "cursor", "--http", EXAMPLE_URL, "--json"))["content"])
    assert cursor["mcpServers"]["memoryd"]["headers"] == {"Authorization": "Bearer ${env:MEMORYD_TOKEN}"}
    absolute = json.loads(run("mcp-config", "vscode", "--absolute").stdout)["servers"]["memoryd"]
    assert Path(absolute["command"]).is_absolute() and absolute["type"] == "stdio"
    for bad, msg in [(("mcp-config", "emacs"), "unknown client"), (("mcp-config", "cursor", "--token", "t"), "No such option"),
                     (("mcp-config", "cursor", "--http", "ftp://x"), "URL"),
                     (("mcp-config", "cursor", "--http", EXAMPLE_URL, "--agent", "a"), "stdio"),
                     (("mcp-config", "cursor", "--agent", "bad name"), "invalid agent")]:
        res = run(*bad)
        assert res.exit_code == 2 and msg in res.stderr, (bad, res.stderr)


OTHERS_JSON = {"mcpServers": {"github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
                                         "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}"}}},
               "someOtherSetting": {"keep": [1, 2, 3]}}
OTHERS_TOML = """# my codex settings
model = "o4-mini"

[mcp_servers.github]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-github"]

[mcp_servers.github.env]
GITHUB_TOKEN = "x"

[mcp_servers.memoryd]
command = "/old/memoryd"
args = ["serve"]

[mcp_servers.memoryd.env]
MEMORYD_DB = "/old.db"

[profiles.fast]
model = "o3"
"""


@pytest.mark.parametrize("client,rel,root", [("claude-code", ".mcp.json", "mcpServers"),
                                             ("cursor", ".cursor/mcp.json", "mcpServers"),
                                             ("vscode", ".vscode/mcp.json", "servers"),
                                             ("claude-desktop", "claude_desktop_config.json", "mcpServers")])
def test_write_merges_into_an_existing_json_file(run, tmp_path, client, rel, root):
    path = tmp_path / "project" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    before = {root if k == "mcpServers" else k: v for k, v in OTHERS_JSON.items()}
    path.write_text(json.dumps(before, indent=4))
    original = path.read_text()
    first = _json(run("mcp-config", client, "--write", "--file", str(path), "--json"))
    assert first["written"] is True and first["backup"] == str(path) + ".bak"
    assert Path(first["backup"]).read_text() == original
    after = json.loads(path.read_text())
    assert after[root]["github"] == OTHERS_JSON["mcpServers"]["github"]  # other servers kept intact
    assert after["someOtherSetting"] == {"keep": [1, 2, 3]}
    assert after[root]["memoryd"]["args"][0] == "serve" and "MEMORYD_DB" in after[root]["memoryd"]["env"]
    text = path.read_text()
    again = _json(run("mcp-config", client, "--write", "--file", str(path), "--json"))
    assert again["written"] is False and path.read_text() == text  # idempotent
    assert Path(first["backup"]).read_text() == original  # the backup is not overwritten by a no-op


def test_write_creates_a_missing_file_and_refuses_a_broken_one(run, tmp_path):
    fresh = tmp_path / "new" / ".cursor" / "mcp.json"
    res = _json(run("mcp-config", "cursor", "--write", "--file", str(fresh), "--json"))
    assert res["written"] is True and res["backup"] is None
    assert set(json.loads(fresh.read_text())["mcpServers"]) == {"memoryd"}
    broken = tmp_path / "broken.json"
    broken.write_text('{"servers": {// a comment\n}}')
    bad = run("mcp-config", "vscode", "--write", "--file", str(broken))
    assert bad.exit_code == 2 and "not valid JSON" in bad.stderr
    assert broken.read_text() == '{"servers": {// a comment\n}}' and not (tmp_path / "broken.json.bak").exists()


def test_write_merges_into_codex_toml(run, tmp_path):
    path = tmp_path / "codex" / "config.toml"
    path.parent.mkdir()
    path.write_text(OTHERS_TOML)
    res = _json(run("mcp-config", "codex", "--with-token", "--write", "--file", str(path), "--json"))
    assert res["written"] is True
    text = path.read_text()
    doc = tomllib.loads(text)
    old = tomllib.loads(OTHERS_TOML)
    assert doc["model"] == "o4-mini" and doc["profiles"] == old["profiles"]
    assert doc["mcp_servers"]["github"] == old["mcp_servers"]["github"]
    ours = doc["mcp_servers"]["memoryd"]
    assert ours["command"] == "memoryd" and ours["startup_timeout_sec"] == 60 and ours["env_vars"] == ["MEMORYD_TOKEN"]
    assert ours["env"]["MEMORYD_DB"] == str((tmp_path / "cli.db").absolute())  # the old entry replaced, not merged
    assert "# my codex settings" in text and "/old" not in text
    assert _json(run("mcp-config", "codex", "--with-token", "--write", "--file", str(path), "--json"))["written"] is False
    assert path.read_text() == text
    inline = tmp_path / "inline.toml"
    inline.write_text('mcp_servers = { memoryd = { command = "x" } }\n')
    bad = run("mcp-config", "codex", "--write", "--file", str(inline))
    assert bad.exit_code == 2 and "by hand" in bad.stderr and inline.read_text().startswith("mcp_servers = {")


def example_files() -> dict[str, str]:
    """examples/<transport>/<client>.<json|toml> for every client, as `memoryd mcp-config` prints them."""
    out: dict[str, str] = {}
    for client in CLIENTS:
        for transport, url in (("stdio", None), ("http", EXAMPLE_URL)):
            cfg = client_config(client, url=url)
            out[f"{transport}/{client}.{cfg.format}"] = cfg.fresh_text()
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
