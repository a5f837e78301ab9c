"""Changing the embedding model: doctor notices, `memoryd reindex` re-embeds (resumably)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from memoryd.app import App
from memoryd.cli import app as cli
from memoryd.config import Settings, default_model_path
from memoryd.models import NewMemory
from memoryd.services.reindex import reindex, vector_coverage

runner = CliRunner()
NOTES = [
    "The staging database listens on port 6432 behind pgbouncer",
    "Release builds are signed with the key in vault path secret/release",
    "Lunch order on Fridays is Thai curry",
]


def _json(res):
    assert res.exit_code in (0, 1), res.output
    return json.loads(res.stdout)


@pytest.fixture
def other_model(tmp_path):
    """The same weights under another directory name: to memoryd, a different model."""
    link = tmp_path / "minilm-renamed"
    link.symlink_to(default_model_path(), target_is_directory=True)
    return link


def test_model_change_is_reported_and_reindex_fixes_it(tmp_path, embedder, other_model):
    db = str(tmp_path / "r.db")
    for note in NOTES:
        assert runner.invoke(cli, ["--db", db, "add", note, "--json"]).exit_code == 0
    other = ["--db", db, "--model", str(other_model)]

    doc = _json(runner.invoke(cli, [*other, "doctor", "--json"]))
    vec = next(c for c in doc["checks"] if c["check"] == "vectors")
    assert doc["ok"] is False and vec["ok"] is False
    assert "0 vectors of minilm-renamed" in vec["detail"] and "reindex" in vec["detail"]
    # until reindexed, the vector leg of the new model sees nothing
    assert _json(runner.invoke(cli, [*other, "search", "which port does staging postgres use", "--legs", "vector",
                                     "--json"])) == []

    res = runner.invoke(cli, [*other, "reindex", "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["reembedded"] == 3 and rep["memories"] == 3 and rep["model"] == "minilm-renamed"
    assert rep["graph"]["memories"] == 3  # re-clustered on the new vectors

    doc = _json(runner.invoke(cli, [*other, "doctor", "--json"]))
    assert doc["ok"] is True, doc
    hits = _json(runner.invoke(cli, [*other, "search", "which port does staging postgres use", "--legs", "vector",
                                     "--json"]))
    assert hits[0]["content"] == NOTES[0]
    again = json.loads(runner.invoke(cli, [*other, "reindex", "--json"]).stdout)
    assert again["reembedded"] == 0 and "graph" not in again


def test_interrupted_reindex_loses_nothing_and_resumes(tmp_path, embedder, other_model):
    settings = Settings.load(home=tmp_path, db=tmp_path / "i.db", env={})
    with App(settings, embedder=embedder) as a:
        a.memories.remember_many([NewMemory(n) for n in NOTES])
    from memoryd.embedding import SentenceTransformerEmbedder

    renamed = SentenceTransformerEmbedder(other_model).wait_ready()
    try:
        with App(settings, embedder=renamed) as b:
            assert renamed.name == "minilm-renamed"

            def stop_after_first(done, todo):
                if done < todo:
                    raise KeyboardInterrupt

            with pytest.raises(KeyboardInterrupt):
                reindex(b.memories, batch=2, progress=stop_after_first)
            total, by_model = vector_coverage(b.memories)
            assert total == 3 and by_model == {"minilm-renamed": 2, "all-MiniLM-L6-v2": 1}  # nothing lost
            rep = reindex(b.memories, batch=2)
            assert rep.reembedded == 1 and vector_coverage(b.memories)[1] == {"minilm-renamed": 3}
            assert b.memories.index.search(renamed.encode([NOTES[1]])[0], 1)[0].score > 0.99
    finally:
        renamed.close()
