from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from memoryd.graph.communities import cluster
from memoryd.graph.export import read_graphml, read_json, to_json_dict, write_graphml, write_json
from memoryd.graph.knn import knn_edges
from memoryd.graph.labels import label_communities
from memoryd.graph.memgraph import MemoryGraph, build_memory_graph
from memoryd.graph.plot import community_layout, plot_communities


@pytest.fixture(scope="module")
def small() -> tuple[MemoryGraph, object]:
    rng = np.random.default_rng(0)
    c = rng.standard_normal((6, 32)).astype(np.float32)
    x = c[rng.integers(0, 6, 300)] + 0.8 * rng.standard_normal((300, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    src, dst, w = knn_edges(x, 8, 0.2)
    ids = [f"m{i}" for i in range(300)]
    graph = build_memory_graph(ids, src, dst, w, {"m0": ["code:a"], "m299": ["code:a"]})
    return graph, cluster(graph)


def test_plot_writes_png(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    graph, clustering = small
    labels = {c: f"topic {c}" for c in range(clustering.n_communities)}
    out = plot_communities(graph, clustering, labels, tmp_path / "sub" / "g.png", figsize=(5, 5), dpi=60)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_layout_groups_communities(small) -> None:  # type: ignore[no-untyped-def]
    graph, clustering = small
    pos, group = community_layout(graph, clustering)
    assert pos.shape == (300, 2) and np.isfinite(pos).all()
    comm = np.array([clustering.membership[m] for m in graph.ids])
    c0, c1 = pos[comm == 0], pos[comm == 1]
    within = np.linalg.norm(c0 - c0.mean(axis=0), axis=1).mean()
    between = np.linalg.norm(c0.mean(axis=0) - c1.mean(axis=0))
    assert between > within  # communities occupy separate regions


def test_graphml_round_trip(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    graph, clustering = small
    labels = label_communities({c: ["alpha beta"] for c in range(clustering.n_communities)})
    path = write_graphml(graph, tmp_path / "g.graphml", clustering.membership, labels)
    back = read_graphml(path)
    _assert_same(graph, back.graph)
    assert back.membership == clustering.membership
    assert back.labels == {c: lab for c, lab in labels.items() if lab}


def test_json_round_trip_and_no_text(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    graph, clustering = small
    labels = {0: "zero"}
    path = write_json(graph, tmp_path / "g.json", clustering.membership, labels, clustering.modularity)
    doc = json.loads(path.read_text())
    assert set(doc) == {"format", "version", "nodes", "edges", "communities", "modularity"}
    assert sum(c["size"] for c in doc["communities"]) == graph.n_nodes
    back = read_json(path)
    _assert_same(graph, back.graph)
    assert back.membership == clustering.membership
    assert back.labels == labels
    assert back.modularity == pytest.approx(clustering.modularity)


def test_export_without_edges_or_communities(tmp_path: Path) -> None:
    graph = build_memory_graph(["a", "b"], [], [], [])
    back = read_graphml(write_graphml(graph, tmp_path / "e.graphml"))
    assert back.graph.ids == ("a", "b") and back.graph.n_edges == 0 and back.membership == {}
    assert to_json_dict(graph)["edges"] == []
    with pytest.raises(ValueError):
        from memoryd.graph.export import from_json_dict

        from_json_dict({"format": "other"})


def _assert_same(a: MemoryGraph, b: MemoryGraph) -> None:
    assert a.ids == b.ids
    np.testing.assert_array_equal(a.src, b.src)
    np.testing.assert_array_equal(a.dst, b.dst)
    np.testing.assert_allclose(a.weight, b.weight, rtol=1e-6)
    np.testing.assert_allclose(a.similarity, b.similarity, rtol=1e-6)
    np.testing.assert_allclose(a.entity, b.entity, rtol=1e-6)
