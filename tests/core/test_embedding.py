"""The embedding backends: ONNX Runtime gives sentence-transformers' vectors, cached, with a
clean fallback to PyTorch."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from memoryd.embedding import onnx as embedding_onnx
from memoryd.config import Settings, default_model_path
from memoryd.embedding import SMALL_BATCH, SentenceTransformerEmbedder
from memoryd.errors import ConfigError

TEXTS = [
    "The deploy script reads DATABASE_URL from .env",
    "Émilie prefers tabs; 東京 office uses spaces 🚀",
    "x",
    "Long note: " + " ".join(f"token{i} in src/memoryd/module_{i}.py" for i in range(300)),  # > 256 tokens
    "pytest -k erase -x fails on CI because HF_HUB_OFFLINE is unset",
] + [f"memory number {i} about the graph builder and Leiden communities" for i in range(20)]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def onnx_embedder(cache):
    emb = SentenceTransformerEmbedder(default_model_path(), backend="onnx", cache_dir=cache).wait_ready()
    yield emb
    emb.close()


@pytest.fixture(scope="module")
def torch_embedder():
    emb = SentenceTransformerEmbedder(default_model_path(), backend="torch").wait_ready()
    yield emb
    emb.close()


def test_onnx_vectors_match_sentence_transformers(onnx_embedder, torch_embedder):
    assert onnx_embedder.backend == "onnx" and torch_embedder.backend == "torch"
    a = onnx_embedder.encode(TEXTS)  # bulk: the multi-threaded session
    b = torch_embedder.encode(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert np.abs(a - b).max() < 1e-4
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    # one at a time (the single-threaded query session) gives the same vectors as the batch
    for i in (0, 1, 3):
        one = onnx_embedder.encode([TEXTS[i]])
        assert len(TEXTS) > SMALL_BATCH and np.abs(one[0] - a[i]).max() < 1e-5


def test_onnx_ranks_like_torch(onnx_embedder, torch_embedder):
    docs = ["rotate the API key every 90 days", "the cat sat on the mat", "use uv to install python deps"]
    q = "how often should keys be rotated"
    for emb in (onnx_embedder, torch_embedder):
        scores = emb.encode(docs) @ emb.encode([q])[0]
        assert int(np.argmax(scores)) == 0


def test_export_is_cached_and_reused(cache, onnx_embedder, monkeypatch):
    graph = embedding_onnx.onnx_cache_path(default_model_path(), cache)
    assert graph.exists() and graph.stat().st_size > 1_000_000
    monkeypatch.setattr(embedding_onnx, "export_onnx", lambda *a, **k: pytest.fail("exported again"))
    emb = SentenceTransformerEmbedder(default_model_path(), backend="onnx", cache_dir=cache).wait_ready()
    try:
        assert emb.backend == "onnx"
        assert np.abs(emb.encode(TEXTS[:2]) - onnx_embedder.encode(TEXTS[:2])).max() < 1e-6
    finally:
        emb.close()


def test_damaged_cache_file_is_exported_again(tmp_path, torch_embedder):
    graph = embedding_onnx.onnx_cache_path(default_model_path(), tmp_path)
    graph.parent.mkdir(parents=True)
    graph.write_bytes(b"not an onnx graph")
    emb = SentenceTransformerEmbedder(default_model_path(), backend="onnx", cache_dir=tmp_path).wait_ready()
    try:
        assert emb.backend == "onnx" and graph.stat().st_size > 1_000_000
        assert np.abs(emb.encode(TEXTS[:1]) - torch_embedder.encode(TEXTS[:1])).max() < 1e-4
        assert not [p for p in graph.parent.iterdir() if p.suffix == ".tmp"]  # no temp file left
    finally:
        emb.close()


def test_auto_falls_back_to_torch_without_onnxruntime(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    emb = SentenceTransformerEmbedder(default_model_path(), backend="auto", cache_dir=tmp_path).wait_ready()
    try:
        assert emb.backend == "torch" and "onnxruntime" in (emb.fallback_reason or "")
        assert emb.encode(["still works"]).shape == (1, 384)
    finally:
        emb.close()
    strict = SentenceTransformerEmbedder(default_model_path(), backend="onnx", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="ONNX Runtime"):
        strict.wait_ready()
    strict.close()


def test_unsupported_models_are_refused_for_export(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "llama", "hidden_size": 8}')
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ConfigError, match="BERT"):
        embedding_onnx._check_supported(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "bert", "hidden_size": 8}')
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_max_tokens": true}')
    with pytest.raises(ConfigError, match="pooling"):
        embedding_onnx._check_supported(tmp_path)


def test_cache_key_follows_the_weights(tmp_path):
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}')
    (model / "model.safetensors").write_bytes(b"a" * 10)
    first = embedding_onnx.onnx_cache_path(model, tmp_path / "c")
    assert first == embedding_onnx.onnx_cache_path(model, tmp_path / "c")
    (model / "model.safetensors").write_bytes(b"b" * 11)
    assert embedding_onnx.onnx_cache_path(model, tmp_path / "c") != first


def test_backend_and_cache_settings(tmp_path):
    s = Settings.load(home=tmp_path, env={"MEMORYD_EMBED_BACKEND": "torch", "MEMORYD_CACHE": str(tmp_path / "c")})
    assert s.embed_backend == "torch" and s.cache_dir == tmp_path / "c"
    assert Settings.load(home=tmp_path, env={"XDG_CACHE_HOME": str(tmp_path / "x")}).cache_dir == tmp_path / "x" / "memoryd"
    with pytest.raises(ConfigError, match="MEMORYD_EMBED_BACKEND"):
        Settings.load(home=tmp_path, env={"MEMORYD_EMBED_BACKEND": "tpu"})
    with pytest.raises(ConfigError, match="unknown embedding backend"):
        SentenceTransformerEmbedder(default_model_path(), backend="tpu")
