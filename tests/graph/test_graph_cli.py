"""`memoryd graph ...` through the CLI, and `memoryd erase` leaving no graph trace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus_helpers import make_chains
from memoryd.cli import app as cli

runner = CliRunner()


@pytest.fixture
def run(tmp_path, embedder):
    db = tmp_path / "cli.db"

    def _run(*args):
        res = runner.invoke(cli, ["--db", str(db), *args])
        return res

    _run.db = db
    return _run


def _json(res):
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_graph_commands(run, tmp_path):
    lines = [json.dumps({"content": d.text}) for c in make_chains(12, 5) for d in (c.first, c.second)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines))
    assert _json(run("add", "--jsonl", str(tmp_path / "in.jsonl"), "--json"))["imported"] == 24
    rep = _json(run("graph", "rebuild", "--json"))
    assert rep["memories"] == 24 and rep["communities"] >= 2
    st = _json(run("graph", "stats", "--json"))
    assert st["assigned"] == 24 and st["changes_since_rebuild"] == 0
    comms = _json(run("graph", "communities", "--json"))
    assert sum(c["size"] for c in comms) == 24 and all(c["label"] for c in comms)
    one = _json(run("graph", "community", str(comms[0]["id"]), "--json"))
    assert len(one["members"]) == comms[0]["size"]
    mid = _json(run("list", "--json", "--limit", "1"))[0]["id"]
    shown = _json(run("graph", "show", mid, "--json"))
    assert shown["id"] == mid and shown["entities"]
    assert run("graph", "show", "01NOPE").exit_code == 4
    human = run("graph", "communities")
    assert human.exit_code == 0 and comms[0]["label"].split(", ")[0] in human.stdout

    exported = _json(run("graph", "export", "--format", "json"))
    assert exported["format"] == "memoryd.graph" and len(exported["nodes"]) == 24
    out = _json(run("graph", "export", "--format", "graphml", "--out", str(tmp_path / "g.graphml"), "--json"))
    assert out["nodes"] == 24 and (tmp_path / "g.graphml").read_text().startswith("<?xml")
    assert run("graph", "export", "--format", "graphml").exit_code == 2  # needs --out
    assert run("graph", "export", "--format", "dot", "--out", str(tmp_path / "g.dot")).exit_code == 2
    png = tmp_path / "g.png"
    res = run("graph", "plot", str(png))
    assert res.exit_code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # labels and ids are words of memories: only the owner may read what memoryd wrote
    assert png.stat().st_mode & 0o777 == 0o600 and (tmp_path / "g.graphml").stat().st_mode & 0o777 == 0o600

    hits = _json(run("search", make_chains(12, 5)[0].question, "--expand", "--json", "--limit", "5"))
    assert hits


def test_cli_erase_leaves_no_entity_string_in_the_files(run, tmp_path):
    secret = ("Ottoline Vexcombe keeps the qv_ledgerwright_31 notes in /home/ovexcombe/ledgerwright.md "
              "and answers at ottoline@vexcombe.example.")
    other = "The qv_ledgerwright_31 job runs every night after the billing export."
    e = _json(run("add", secret, "--json"))
    _json(run("add", other, "--json"))
    _json(run("graph", "rebuild", "--json"))
    receipt = _json(run("erase", "--id", e["id"], "--yes", "--json"))
    assert receipt["ok"] if "ok" in receipt else receipt["verification"]["ok"]
    db = Path(run.db)
    raw = b"".join(Path(str(db) + s).read_bytes() for s in ("", "-wal") if Path(str(db) + s).exists()).lower()
    for needle in (b"vexcombe", b"ottoline", b"ledgerwright.md", b"/home/ovexcombe"):
        assert needle not in raw, needle
    assert b"qv_ledgerwright_31" in raw  # the other memory keeps it
    st = _json(run("graph", "stats", "--json"))
    assert st["memories"] == st["assigned"] == 1
