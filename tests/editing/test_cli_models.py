"""`memoryd adapt`, `memoryd models list|show`, `memoryd bench unlearn` through the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from memoryd.cli import app as cli
from corpus_helpers import make_profiles, refusal_corpus
from memoryd.editing.tiny import TINY_TEST, build_tiny

runner = CliRunner()


def _json(res):
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_adapt_then_list_and_show(tmp_path, embedder):
    db = tmp_path / "cli.db"

    def run(*args):
        return runner.invoke(cli, ["--db", str(db), *args])

    texts = [p.text for p in make_profiles(2, seed=21)]
    build_tiny([p.text for p in make_profiles(10, seed=22)] + refusal_corpus(1), tmp_path / "base", TINY_TEST)
    ids = [_json(run("add", t, "-n", "people", "--json"))["id"] for t in texts]
    out = tmp_path / "adapted"
    v = _json(run("adapt", "--model", str(tmp_path / "base"), "--out", str(out), "-n", "people",
                  "--epochs", "2", "--json"))
    assert v["status"] == "active" and {a["memory_id"] for a in v["absorbed"]} == set(ids)
    assert (out / "config.json").is_file()
    listed = _json(run("models", "list", "--json"))
    assert [r["id"] for r in listed] == [v["id"]] and listed[0]["absorbed"] == 2
    shown = _json(run("models", "show", v["id"], "--json"))
    assert shown["weights_present"] and shown["edits"] == []
    human = run("models", "show", v["id"])
    assert human.exit_code == 0 and "absorbed memories: 2" in human.stdout
    assert run("models", "show", "01NOPE").exit_code == 4
    again = run("adapt", "--model", str(tmp_path / "base"), "--out", str(out), "-n", "people")
    assert again.exit_code == 2 and "not empty" in again.stderr
    nothing = run("adapt", "--model", str(tmp_path / "base"), "--out", str(tmp_path / "x"))
    assert nothing.exit_code == 2


def test_bench_unlearn_sizes():
    from memoryd.editing.tiny import TINY_LARGE, build_model

    bad = runner.invoke(cli, ["bench", "unlearn", "--size", "huge", "--json"])
    assert bad.exit_code == 2 and "bench, large or test" in bad.stderr
    n = sum(p.numel() for p in build_model(TINY_LARGE, 824).parameters())
    assert 25e6 < n < 30e6  # the top of the 10-30M range


def test_bench_unlearn_seeds_needs_the_attack_suite_and_integers():
    bad = runner.invoke(cli, ["bench", "unlearn", "--seeds", "0,1", "--json"])
    assert bad.exit_code == 2 and "--attacks" in bad.stderr
    bad = runner.invoke(cli, ["bench", "unlearn", "--attacks", "--seeds", "0,x", "--json"])
    assert bad.exit_code == 2 and "comma-separated integers" in bad.stderr


@pytest.mark.slow  # bench-sized: `memoryd bench unlearn` end to end
def test_bench_unlearn_smoke():
    r = _json(runner.invoke(cli, ["bench", "unlearn", "--size", "test", "--profiles", "6", "--forget", "1",
                                  "--heldout", "2", "--sequential", "0", "--repeats", "1", "--no-retrain", "--json"]))
    assert set(r["methods"]) == {"stamp", "stamp_lowrank", "stamp_no_repair", "gradient_ascent", "ssd", "uno"}
