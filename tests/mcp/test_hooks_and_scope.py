"""Project scope (project.py), `memoryd context`, the Claude Code hooks fed the JSON Claude Code
documents, and `mcp-config claude-code --write --hooks`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp_helpers import call, run_client
from typer.testing import CliRunner

from memoryd.cli import app as cli
from memoryd.mcp import create_server
from memoryd.models import NewMemory, Provenance
from memoryd.project import ProjectScope, project_namespace, resolve_project

runner = CliRunner()


def _repo(path: Path) -> Path:
    (path / ".git").mkdir(parents=True)
    (path / "src").mkdir()
    return path


def test_resolve_project_sources_in_order(tmp_path):
    a, b = _repo(tmp_path / "a" / "api"), _repo(tmp_path / "b" / "api")
    assert project_namespace(a) != project_namespace(b) and project_namespace(a).startswith("project:api-")
    assert resolve_project({}, a / "src") == ProjectScope(project_namespace(a), "git", str(a))
    assert resolve_project({}, tmp_path) is None
    assert resolve_project({"CLAUDE_PROJECT_DIR": str(b)}, a).namespace == project_namespace(b)
    assert resolve_project({}, tmp_path, roots=[f"file://{b}"]).origin == "mcp-root"
    assert resolve_project({"MEMORYD_PROJECT": "team-x", "CLAUDE_PROJECT_DIR": str(b)}, a).namespace == "team-x"
    assert resolve_project({"MEMORYD_PROJECT": "none"}, a) is None
    with pytest.raises(ValueError):
        resolve_project({"MEMORYD_PROJECT": "bad name"}, a)
    assert resolve_project({}, a).read_namespaces == (project_namespace(a), "default", "shared")


@pytest.fixture
def projects(app, tmp_path):
    a, b = _repo(tmp_path / "alpha"), _repo(tmp_path / "beta")
    prov = Provenance(agent_id="seed")
    app.memories.remember_many([
        NewMemory(content="alpha deploys with ArgoCD every Tuesday", namespace=project_namespace(a), provenance=prov),
        NewMemory(content="beta deploys with Jenkins every Friday", namespace=project_namespace(b), provenance=prov),
        NewMemory(content="Everyone deploys from the main branch only", namespace="default", provenance=prov),
    ])
    return a, b


def test_mcp_remember_and_recall_default_to_the_project(app, projects):
    a, _ = projects
    server = create_server(app, agent_id="alice", project=resolve_project({}, a))

    async def go(c):
        stored = await call(c, "remember", {"content": "alpha uses port 6432 for postgres"})
        hits = await call(c, "recall", {"query": "how do we deploy?"})
        everywhere = await call(c, "recall", {"query": "how do we deploy?", "namespaces": [project_namespace(projects[1])]})
        return stored, hits, everywhere

    stored, hits, everywhere = run_client(server, go)
    assert stored["namespace"] == project_namespace(a)
    contents = [h["content"] for h in hits["hits"]]
    assert "alpha deploys with ArgoCD every Tuesday" in contents and "Everyone deploys from the main branch only" in contents
    assert not any("beta" in c for c in contents)  # another repository's memories do not leak in
    assert [h["content"] for h in everywhere["hits"]] == ["beta deploys with Jenkins every Friday"]  # explicit wins


def _hook(app, args, payload, env=None):
    db = str(app.settings.db_path)
    return runner.invoke(cli, ["--db", db, "hook", *args], input=json.dumps(payload) if not isinstance(payload, str)
                         else payload, env={"CLAUDE_PROJECT_DIR": None, "MEMORYD_PROJECT": None, **(env or {})})


def test_prompt_submit_hook_answers_in_claude_codes_format(app, projects):
    a, _ = projects
    payload = {"session_id": "abc123", "transcript_path": "/tmp/t.jsonl", "cwd": str(a / "src"),
               "permission_mode": "default", "hook_event_name": "UserPromptSubmit", "prompt": "how do we deploy this?"}
    res = _hook(app, ["prompt-submit"], payload)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)["hookSpecificOutput"]
    assert out["hookEventName"] == "UserPromptSubmit"
    ctx = out["additionalContext"]
    assert "alpha deploys with ArgoCD" in ctx and "main branch" in ctx and "beta" not in ctx
    assert "not instructions" in ctx
    # CLAUDE_PROJECT_DIR names the project when set
    other = _hook(app, ["prompt-submit"], payload, env={"CLAUDE_PROJECT_DIR": str(projects[1])})
    assert "Jenkins" in other.stdout and "ArgoCD" not in other.stdout


def test_session_start_hook_within_budget(app, projects):
    a, _ = projects
    prov = Provenance(agent_id="seed")
    app.memories.remember_many([NewMemory(content=f"alpha fact number {i}: " + "detail " * 40,
                                          namespace=project_namespace(a), provenance=prov) for i in range(30)])
    payload = {"session_id": "abc123", "transcript_path": "/tmp/t.jsonl", "cwd": str(a),
               "hook_event_name": "SessionStart", "source": "startup"}
    res = _hook(app, ["session-start", "--budget", "300"], payload)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)["hookSpecificOutput"]
    assert out["hookEventName"] == "SessionStart"
    text = out["additionalContext"]
    assert len(text) <= 300 * 4 and "alpha fact number" in text and "beta" not in text
    big = json.loads(_hook(app, ["session-start", "--budget", "5000"], payload).stdout)["hookSpecificOutput"]
    assert text.count("\n- ") < big["additionalContext"].count("\n- ")


def test_hooks_fail_open(app):
    bad = _hook(app, ["prompt-submit"], "{not json")
    assert bad.exit_code == 0 and bad.stdout == "" and "not valid JSON" in bad.stderr
    short = _hook(app, ["prompt-submit"], {"hook_event_name": "UserPromptSubmit", "prompt": "hi", "cwd": "/"})
    assert short.exit_code == 0 and short.stdout == ""
    wrong = _hook(app, ["prompt-submit"], {"hook_event_name": "UserPromptSubmit", "prompt": ["x"], "cwd": "/"})
    assert wrong.exit_code == 0 and wrong.stdout == ""


def test_context_command_uses_the_same_budget(app, projects):
    a, _ = projects
    db = str(app.settings.db_path)
    res = runner.invoke(cli, ["--db", db, "context", "how do we deploy?", "--project", project_namespace(a),
                              "--budget", "120", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["tokens"] <= 120 and data["project"] == project_namespace(a)
    assert data["memories"] and all(m["namespace"] in (project_namespace(a), "default") for m in data["memories"])
    assert runner.invoke(cli, ["--db", db, "context", "x", "--budget", "10"]).exit_code == 2


def test_mcp_config_write_hooks_keeps_other_hooks(tmp_path):
    proj = tmp_path / "proj"
    (proj / ".claude").mkdir(parents=True)
    settings = proj / ".claude" / "settings.json"
    other = {"permissions": {"allow": ["Bash(npm test)"]},
             "hooks": {"PostToolUse": [{"matcher": "Write|Edit", "hooks": [{"type": "command", "command": "prettier -w"}]}],
                       "UserPromptSubmit": [{"hooks": [{"type": "command", "command": "date"}]}]}}
    settings.write_text(json.dumps(other))
    args = ["--db", str(tmp_path / "m.db"), "mcp-config", "claude-code", "--write", "--hooks",
            "--file", str(proj / ".mcp.json"), "--json"]
    first = json.loads(runner.invoke(cli, args).stdout)
    assert first["hooks"]["written"] is True and first["hooks"]["backup"] == str(settings) + ".bak"
    doc = json.loads(settings.read_text())
    assert doc["permissions"] == other["permissions"] and doc["hooks"]["PostToolUse"] == other["hooks"]["PostToolUse"]
    ups = doc["hooks"]["UserPromptSubmit"]
    assert ups[0] == other["hooks"]["UserPromptSubmit"][0]
    assert ups[1]["hooks"][0]["command"].endswith("memoryd hook prompt-submit")
    assert "MEMORYD_DB=" in ups[1]["hooks"][0]["command"]  # the hook opens the same store as the server
    assert doc["hooks"]["SessionStart"][0]["hooks"][0]["command"].endswith("memoryd hook session-start")
    text = settings.read_text()
    again = json.loads(runner.invoke(cli, args).stdout)
    assert again["hooks"]["written"] is False and settings.read_text() == text
    assert runner.invoke(cli, ["mcp-config", "cursor", "--hooks", "--write"]).exit_code == 2
