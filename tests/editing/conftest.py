"""Fixtures for editing tests: tiny Llamas built from configs (never downloaded).

`random_lm` is an untrained ~0.7M model (linear-algebra properties need no training);
`trained_lm` is adapted once per session on a dozen synthetic profiles until it reproduces
every fact; tests that change it must revert or work on a copy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
import torch

from corpus_helpers import make_profiles, refusal_corpus
from memoryd.editing.adapt import AdaptConfig, train_on_texts
from memoryd.editing.tiny import TINY_TEST, build_model, train_tokenizer

N_PROFILES = 12


@dataclass
class LM:
    model: torch.nn.Module
    tokenizer: object
    memories: list[str]
    heldout: list[str]

    def copy(self) -> "LM":
        return LM(copy.deepcopy(self.model), self.tokenizer, self.memories, self.heldout)


def _texts() -> tuple[list[str], list[str]]:
    profiles = make_profiles(N_PROFILES + 6, seed=1)
    return [p.text for p in profiles[:N_PROFILES]], [p.text for p in profiles[N_PROFILES:]]


@pytest.fixture(scope="session")
def random_lm() -> LM:
    memories, heldout = _texts()
    tok = train_tokenizer(memories + heldout + refusal_corpus(1), TINY_TEST.vocab_size)
    return LM(build_model(TINY_TEST, len(tok)), tok, memories, heldout)


@pytest.fixture(scope="session")
def trained_lm() -> LM:
    torch.manual_seed(0)
    memories, heldout = _texts()
    tok = train_tokenizer(memories + heldout + refusal_corpus(1), TINY_TEST.vocab_size)
    model = build_model(TINY_TEST, len(tok))
    cfg = AdaptConfig(max_epochs=300, lr=3e-3, batch_size=8, check_every=5, settle_epochs=5, warmup_steps=10)
    train_on_texts(model, tok, memories + refusal_corpus(2), cfg, must_reproduce=memories)
    return LM(model, tok, memories, heldout)


@pytest.fixture
def adapted(app, tmp_path):
    """A tiny model adapted through `app` on four profile memories (tests/editing/ledger_helpers.py)."""
    from .ledger_helpers import adapt_people

    return adapt_people(app, tmp_path)


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: tiny matrices run faster so, far faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
