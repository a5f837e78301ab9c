from __future__ import annotations

import pytest

from memoryd.graph.metrics import nmi, purity, score_communities

TRUTH = {"a": "x", "b": "x", "c": "y", "d": "y"}


def test_perfect_and_relabelled_partitions() -> None:
    assert purity({"a": 5, "b": 5, "c": 9, "d": 9}, TRUTH) == 1.0
    assert nmi({"a": 5, "b": 5, "c": 9, "d": 9}, TRUTH) == pytest.approx(1.0)


def test_mixed_partition() -> None:
    m = {"a": 0, "b": 1, "c": 0, "d": 1}
    assert purity(m, TRUTH) == 0.5
    assert nmi(m, TRUTH) == pytest.approx(0.0, abs=1e-9)
    s = score_communities(m, TRUTH)
    assert (s.n, s.n_communities, s.n_topics) == (4, 2, 2)
    assert s.ari <= 0.0


def test_only_shared_ids_are_scored() -> None:
    s = score_communities({"a": 0, "b": 0, "zzz": 1}, TRUTH)
    assert s.n == 2 and s.purity == 1.0
    assert score_communities({}, TRUTH).n == 0
