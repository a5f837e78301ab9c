"""GraphML and JSON export (and re-import) of the in-memory graph and its communities.

Exports carry ids, weights, community ids and labels only: never memory text.

GraphML (igraph ``write_graphml``): vertex attributes ``memory_id``,
``community`` (-1 if unassigned), ``label``; edge attributes ``weight``,
``similarity``, ``entity``.

JSON::

    {"format": "memoryd.graph", "version": 1,
     "nodes": [{"id": "m1", "community": 0}, ...],
     "edges": [{"source": "m1", "target": "m2", "weight": 0.8,
                "similarity": 0.8, "entity": 0.0}, ...],
     "communities": [{"id": 0, "size": 12, "label": "..."}, ...],
     "modularity": 0.61}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import igraph as ig
import numpy as np

from memoryd.graph.memgraph import MemoryGraph, to_igraph

__all__ = [
    "GraphExport",
    "write_graphml",
    "read_graphml",
    "to_json_dict",
    "from_json_dict",
    "write_json",
    "read_json",
]

FORMAT = "memoryd.graph"
VERSION = 1


@dataclass(frozen=True)
class GraphExport:
    """What an export holds: the graph, community membership and labels."""

    graph: MemoryGraph
    membership: dict[str, int]
    labels: dict[int, str]
    modularity: float | None = None


def _graph_from_edges(
    ids: list[str], src: list[int], dst: list[int], w: list[float], s: list[float], e: list[float]
) -> MemoryGraph:
    a = np.asarray(src, dtype=np.int64)
    b = np.asarray(dst, dtype=np.int64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((hi, lo))
    return MemoryGraph(
        ids=tuple(ids),
        src=lo[order],
        dst=hi[order],
        weight=np.asarray(w, dtype=np.float32)[order],
        similarity=np.asarray(s, dtype=np.float32)[order],
        entity=np.asarray(e, dtype=np.float32)[order],
    )


def write_graphml(
    graph: MemoryGraph,
    path: str | Path,
    membership: Mapping[str, int] | None = None,
    labels: Mapping[int, str] | None = None,
) -> Path:
    """Write GraphML; returns the path."""
    g = to_igraph(graph)
    comm = [int((membership or {}).get(mid, -1)) for mid in graph.ids]
    g.vs["community"] = comm
    g.vs["label"] = [(labels or {}).get(c, "") if c >= 0 else "" for c in comm]
    if g.ecount() == 0:  # declare edge attributes even when there are no edges
        for name in ("weight", "similarity", "entity"):
            g.es[name] = []
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    g.write_graphml(str(out))
    return out


def read_graphml(path: str | Path) -> GraphExport:
    """Read a file written by :func:`write_graphml`."""
    g = ig.Graph.Read_GraphML(str(path))
    ids = [str(x) for x in g.vs["memory_id"]] if g.vcount() else []
    names = g.es.attributes()
    edges = g.get_edgelist()

    def attr(name: str) -> list[float]:
        return [float(x) for x in g.es[name]] if name in names else [0.0] * len(edges)

    graph = _graph_from_edges(
        ids, [a for a, _ in edges], [b for _, b in edges],
        attr("weight"), attr("similarity"), attr("entity"),
    )
    comm = [int(c) for c in g.vs["community"]] if g.vcount() else []
    label_attr = g.vs["label"] if g.vcount() else []
    membership = {mid: c for mid, c in zip(ids, comm) if c >= 0}
    labels = {c: str(lab) for c, lab in zip(comm, label_attr) if c >= 0 and lab}
    return GraphExport(graph, membership, labels)


def to_json_dict(
    graph: MemoryGraph,
    membership: Mapping[str, int] | None = None,
    labels: Mapping[int, str] | None = None,
    modularity: float | None = None,
) -> dict[str, Any]:
    """A JSON-ready dict of nodes, edges and communities."""
    membership = membership or {}
    labels = labels or {}
    ids = graph.ids
    nodes = [{"id": mid, "community": int(membership.get(mid, -1))} for mid in ids]
    edges = [
        {"source": ids[a], "target": ids[b], "weight": float(w), "similarity": float(s), "entity": float(e)}
        for a, b, w, s, e in zip(graph.src.tolist(), graph.dst.tolist(), graph.weight.tolist(),
                                 graph.similarity.tolist(), graph.entity.tolist())
    ]
    sizes: dict[int, int] = {}
    for mid in ids:
        c = membership.get(mid)
        if c is not None:
            sizes[c] = sizes.get(c, 0) + 1
    communities = [{"id": c, "size": sizes[c], "label": labels.get(c, "")} for c in sorted(sizes)]
    return {
        "format": FORMAT,
        "version": VERSION,
        "nodes": nodes,
        "edges": edges,
        "communities": communities,
        "modularity": modularity,
    }


def from_json_dict(data: Mapping[str, Any]) -> GraphExport:
    """Inverse of :func:`to_json_dict`."""
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ValueError(f"not a {FORMAT} v{VERSION} document")
    ids = [str(n["id"]) for n in data["nodes"]]
    index = {mid: i for i, mid in enumerate(ids)}
    edges = data["edges"]
    graph = _graph_from_edges(
        ids,
        [index[e["source"]] for e in edges],
        [index[e["target"]] for e in edges],
        [e["weight"] for e in edges],
        [e.get("similarity", 0.0) for e in edges],
        [e.get("entity", 0.0) for e in edges],
    )
    membership = {str(n["id"]): int(n["community"]) for n in data["nodes"] if int(n["community"]) >= 0}
    labels = {int(c["id"]): str(c["label"]) for c in data["communities"] if c.get("label")}
    return GraphExport(graph, membership, labels, data.get("modularity"))


def write_json(
    graph: MemoryGraph,
    path: str | Path,
    membership: Mapping[str, int] | None = None,
    labels: Mapping[int, str] | None = None,
    modularity: float | None = None,
) -> Path:
    """Write :func:`to_json_dict` to ``path``; returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(to_json_dict(graph, membership, labels, modularity)), encoding="utf-8")
    return out


def read_json(path: str | Path) -> GraphExport:
    return from_json_dict(json.loads(Path(path).read_text(encoding="utf-8")))
