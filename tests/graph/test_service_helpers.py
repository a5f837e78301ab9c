"""Pure helpers the service uses: batched neighbours, labels against corpus frequencies."""

from __future__ import annotations

from collections import Counter

import numpy as np

from memoryd.graph.knn import batch_neighbours, neighbours_of
from memoryd.graph.labels import terms_against, tokenize


def test_batch_neighbours_match_one_by_one_scans():
    rng = np.random.default_rng(0)
    mat = rng.standard_normal((300, 16)).astype(np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    vecs = mat[:70] + 0.3 * rng.standard_normal((70, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(1000, 1300)
    got = batch_neighbours(ids, mat, vecs, 5, 0.2, cols=32)
    for v, g in zip(vecs, got):
        nb = neighbours_of(v, mat, 5, 0.2)
        assert set(g) == {int(ids[i]) for i in nb.index.tolist()}
    assert batch_neighbours(ids[:3], mat[:3], vecs[:2], 5, -1.0)[0].keys() == {1000, 1001, 1002}


def test_terms_against_uses_corpus_frequencies():
    texts = {0: ["kafka consumer lag alert", "kafka consumer rebalance"], 1: ["postgres vacuum"]}
    corpus = [*texts[0], *texts[1]] + ["consumer survey results"] * 6
    df = Counter(t for text in corpus for t in set(tokenize(text)))
    terms = terms_against(texts, df, len(corpus), 2)
    assert terms[0][0][0] == "kafka"  # "consumer" is common across the corpus
    assert {t for t, _ in terms[1]} == {"postgres", "vacuum"}
    assert terms_against({2: ["brand new words"]}, {}, 1, 3)[2]  # unseen terms still label
