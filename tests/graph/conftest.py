"""Fixtures for the graph integration tests: one small real store per module (real
SQLite file, real model), and helpers to build fresh ones."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from memoryd.app import App
from corpus_helpers import Chain, make_chains, make_corpus
from memoryd.config import Settings
from memoryd.models import NewMemory, Provenance


@dataclass
class Store:
    app: App
    settings: Settings
    ids: dict[str, str]  # doc key -> memory id
    topics: dict[str, str]  # memory id -> known topic
    chains: list[Chain]


def build_store(home: Path, embedder, *, n_docs: int = 72, n_chains: int = 8, private: bool = True) -> Store:
    settings = Settings.load(home=home, db=home / "memoryd.db", env={})
    app = App(settings, embedder=embedder)
    docs = make_corpus(n_docs, 0, 3).docs
    chains = make_chains(n_chains, 3)
    prov = Provenance(agent_id="tester")
    items = [(d, "notes") for d in docs] + [(d, "notes") for c in chains for d in (c.first, c.second)]
    if private:  # one private memory that other agents must never see, in any graph view
        from corpus_helpers import Doc

        items.append((Doc("private/1", "Zorblax deployment key rotation for the payments worker is handled by "
                          "vault path secret/zorblax_rotation_key.", "private", "p", "c"), "alice-private"))
    res = app.memories.remember_many([NewMemory(d.text, namespace=ns, provenance=prov) for d, ns in items])
    ids = {d.key: r.memory.id for (d, _), r in zip(items, res)}
    topics = {r.memory.id: d.topic for (d, _), r in zip(items, res)}
    return Store(app, settings, ids, topics, chains)


@pytest.fixture(scope="module")
def store(tmp_path_factory, embedder):
    """~90 memories: corpus notes over 12 topics, multi-hop chains, one private memory.
    Read-only for the tests that share it."""
    s = build_store(tmp_path_factory.mktemp("graph-store"), embedder)
    yield s
    s.app.close()


@pytest.fixture
def fresh(tmp_path, embedder):
    """A store of one's own, to mutate."""
    s = build_store(tmp_path / "home", embedder, n_docs=36, n_chains=4)
    yield s
    s.app.close()
