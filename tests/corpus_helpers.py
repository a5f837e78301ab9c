"""Synthetic corpora the tests borrow from the benchmarks' public data modules (STYLE rule
12: tests import fixtures from a test helper, never from a benchmark's internals).

developer notes with known-answer queries (memoryd/bench/corpus.py), multi-hop chains
(memoryd/bench/chains.py) and the synthetic personal profiles a tiny model is adapted on
(memoryd/bench/unlearn/profiles.py); imported as `corpus_helpers` (tests/ is on sys.path).
"""

from __future__ import annotations

from memoryd.bench.chains import Chain, make_chains
from memoryd.bench.corpus import Corpus, Doc, Query, make_corpus
from memoryd.bench.unlearn.profiles import CITIES, Profile, make_profiles, refusal_corpus

__all__ = ["CITIES", "Chain", "Corpus", "Doc", "Profile", "Query", "make_chains", "make_corpus", "make_profiles",
           "refusal_corpus"]
