"""`memoryd distill-embedder`: a static model distilled from the real local encoder, used
through --model like any other."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from memoryd.cli import app as cli
from memoryd.embedding import SentenceTransformerEmbedder

runner = CliRunner()


@pytest.fixture(scope="module")
def static_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "minilm-static"
    res = runner.invoke(cli, ["distill-embedder", "--out", str(out), "--dims", "64", "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["dims"] == 64 and rep["vocabulary"] > 20_000 and rep["out"] == str(out)
    return out


def test_static_model_embeds_and_ranks(static_dir):
    emb = SentenceTransformerEmbedder(static_dir).wait_ready()
    try:
        assert emb.backend == "torch" and emb.dim == 64 and emb.name == "minilm-static"
        assert emb.fallback_reason and "UnsupportedModel" in emb.fallback_reason
        docs = ["rotate the database password every 90 days", "the cat sat on the mat",
                "install python packages with uv"]
        v = emb.encode(docs + ["how often do we rotate db passwords"])
        assert v.shape == (4, 64) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
        assert int(np.argmax(v[:3] @ v[3])) == 0
    finally:
        emb.close()


def test_static_model_through_the_cli(static_dir, tmp_path):
    base = ["--db", str(tmp_path / "s.db"), "--model", str(static_dir)]
    for note in ("The staging database listens on port 6432 behind pgbouncer", "Lunch is Thai curry on Fridays"):
        assert runner.invoke(cli, [*base, "add", note, "--json"]).exit_code == 0
    hits = json.loads(runner.invoke(cli, [*base, "search", "staging postgres port", "--legs", "vector",
                                          "--json"]).stdout)
    assert "6432" in hits[0]["content"]
    doc = json.loads(runner.invoke(cli, [*base, "doctor", "--json"]).stdout)
    assert doc["ok"] is True and "minilm-static dim=64 on torch" in json.dumps(doc)


def test_distill_refuses_to_overwrite_and_bad_dims(static_dir):
    res = runner.invoke(cli, ["distill-embedder", "--out", str(static_dir)])
    assert res.exit_code != 0 and "--force" in res.output
    res = runner.invoke(cli, ["distill-embedder", "--out", str(static_dir.parent / "x"), "--dims", "2"])
    assert res.exit_code != 0 and "dims" in res.output
    assert not (static_dir.parent / "x").exists()
