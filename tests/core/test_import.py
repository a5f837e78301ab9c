"""`memoryd import` (memoryd export, MCP memory server memory.jsonl, Markdown notes) and the
type checks shared with `add --jsonl`: real files, the real CLI, a real SQLite file."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from memoryd.cli import app as cli

runner = CliRunner()

# the official MCP memory server (@modelcontextprotocol/server-memory) writes one object per line
MCP_MEMORY = "\n".join(json.dumps(x) for x in [
    {"type": "entity", "name": "John_Smith", "entityType": "person",
     "observations": ["Speaks fluent Spanish", "Prefers morning meetings"]},
    {"type": "entity", "name": "Anthropic", "entityType": "organization", "observations": []},
    {"type": "relation", "from": "John_Smith", "to": "Anthropic", "relationType": "works_at"},
]) + "\n"


def _json(res):
    assert res.exit_code == 0, res.output + (res.stderr if res.stderr_bytes else "")
    return json.loads(res.stdout)


def _count(run) -> int:
    return _json(run("stats", "--json"))["memories"]


def test_mcp_memory_jsonl(run, tmp_path):
    path = tmp_path / "memory.jsonl"
    path.write_text(MCP_MEMORY)
    res = _json(run("import", str(path), "--json"))
    assert res["format"] == "mcp-memory" and res["imported"] == 4 and res["skipped"] == 0
    contents = {m["content"]: m for m in _json(run("list", "--json", "--limit", "10"))}
    assert set(contents) == {"John_Smith (person): Speaks fluent Spanish", "John_Smith (person): Prefers morning meetings",
                             "Anthropic is a organization", "John_Smith works_at Anthropic"}
    assert set(contents["John_Smith works_at Anthropic"]["tags"]) == {"relation", "entity:John_Smith", "entity:Anthropic"}
    hits = _json(run("search", "who speaks spanish?", "--json"))
    assert hits[0]["content"] == "John_Smith (person): Speaks fluent Spanish"
    again = _json(run("import", str(path), "--json"))
    assert again["imported"] == 0 and again["duplicates"] == 4


def test_mcp_memory_malformed_imports_nothing_unless_skip_invalid(run, tmp_path):
    path = tmp_path / "memory.jsonl"
    path.write_text(MCP_MEMORY + '{"type": "entity", "name": "X", "entityType": "thing", "observations": "not a list"}\n'
                    + '{"type": "node", "name": "Y"}\n' + "{not json\n")
    res = run("import", str(path))
    assert res.exit_code == 2 and "3 invalid record(s), nothing imported" in res.stderr
    assert "line 4: 'observations' must be a list of text" in res.stderr and "line 6: not JSON" in res.stderr
    assert "Traceback" not in res.output and _count(run) == 0
    ok = _json(run("import", str(path), "--skip-invalid", "--json"))
    assert ok["imported"] == 4 and ok["skipped"] == 3 and _count(run) == 4


def test_markdown_notes_per_note_and_per_section(run, tmp_path):
    notes = tmp_path / "notes"
    (notes / "ops").mkdir(parents=True)
    (notes / "ops" / "deploy.md").write_text(
        "---\ntitle: Deploying\ntags: [ops, deploy]\n---\nIntro line.\n\n## Staging\nStaging uses port 6432.\n\n"
        "## Production\nProduction deploys on Tuesdays only.\n")
    (notes / "lunch.md").write_text("---\ntags: food, fridays\nnamespace: team\n---\nThai curry on Fridays.\n")
    per_note = _json(run("import", str(notes), "--json"))
    assert per_note["format"] == "markdown" and per_note["imported"] == 2
    mems = {m["provenance"]["source"]: m for m in _json(run("list", "--json"))}
    assert set(mems) == {"ops/deploy.md", "lunch.md"}
    assert mems["ops/deploy.md"]["tags"] == ["ops", "deploy"] and "Tuesdays" in mems["ops/deploy.md"]["content"]
    assert mems["lunch.md"]["namespace"] == "team" and mems["lunch.md"]["tags"] == ["food", "fridays"]
    sections = _json(run("import", str(notes / "ops"), "--split", "section", "-n", "docs", "--json"))
    assert sections["imported"] == 3  # the intro, Staging, Production
    docs = {m["content"] for m in _json(run("list", "-n", "docs", "--json"))}
    assert "Deploying — Staging\n\nStaging uses port 6432." in docs


def test_markdown_bad_note_imports_nothing(run, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "good.md").write_text("A fine note.\n")
    (notes / "bad.md").write_text("---\ntags: [unclosed\n---\nBody.\n")
    (notes / "typed.md").write_text("---\nimportance: high\n---\nBody.\n")
    (notes / "binary.md").write_bytes(b"\xff\xfe not utf-8")
    res = run("import", str(notes))
    assert res.exit_code == 2 and "nothing imported" in res.stderr and "bad.md: front matter is not valid YAML" in res.stderr
    assert "typed.md: 'importance' must be a number" in res.stderr and "binary.md" in res.stderr
    assert _count(run) == 0
    assert _json(run("import", str(notes), "--skip-invalid", "--json"))["imported"] == 1


def test_export_roundtrip(run, tmp_path):
    _json(run("add", "The VPN config lives in ops/vpn/wg0.conf", "-t", "ops", "-n", "infra", "--json"))
    _json(run("add", "Lunch is at noon", "--source", "chat", "--json"))
    out = tmp_path / "export.jsonl"
    assert run("export", "-o", str(out)).exit_code == 0
    other = tmp_path / "other.db"
    res = runner.invoke(cli, ["--db", str(other), "import", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["format"] == "memoryd" and json.loads(res.stdout)["imported"] == 2
    listed = json.loads(runner.invoke(cli, ["--db", str(other), "list", "--json"]).stdout)
    by = {m["content"]: m for m in listed}
    assert by["The VPN config lives in ops/vpn/wg0.conf"]["namespace"] == "infra"
    assert by["The VPN config lives in ops/vpn/wg0.conf"]["tags"] == ["ops"]
    assert by["Lunch is at noon"]["provenance"]["source"] == "chat"


@pytest.mark.parametrize("field,value,msg", [
    ("source", [1], "'source' must be text, got a list"),
    ("tags", [1], "'tags' must be a list of text"),
    ("importance", True, "'importance' must be a number"),
    ("importance", "0.5", "'importance' must be a number"),
    ("kind", {"a": 1}, "'kind' must be text, got an object"),
    ("namespace", 7, "'namespace' must be text"),
    ("session_id", [], "'session_id' must be text"),
    ("created_at", "yesterday", "'created_at' must be POSIX seconds or an ISO 8601 date"),
    ("content", 5, "'content' must be text"),
    ("provenance", "x", "'provenance' must be an object"),
])
def test_wrong_types_are_clear_errors_and_atomic(run, tmp_path, field, value, msg):
    """Formerly a line with "source": [1] after 256 good lines imported 256, then crashed."""
    good = [json.dumps({"content": f"note {i} about the build"}) for i in range(300)]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([*good, json.dumps({"content": "bad one", field: value})]) + "\n")
    for cmd in (("add", "--jsonl", str(path)), ("import", str(path))):
        res = run(*cmd)
        assert res.exit_code == 2, res.output
        assert "line 301" in res.stderr and msg in res.stderr and "Traceback" not in res.output
        assert _count(run) == 0
