"""The whole stored graph at once: a snapshot (ids, weights, communities, labels; never
memory text), written as JSON or GraphML, or drawn as a PNG."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ...errors import ValidationError
from ...graph import Clustering, MemoryGraph, build_memory_graph
from ...store import graph as gstore
from .context import GraphContext
from .labels import Labeller

__all__ = ["GraphExporter"]


class GraphExporter:
    def __init__(self, ctx: GraphContext, labeller: Labeller):
        self.ctx = ctx
        self.labeller = labeller

    def snapshot(self) -> tuple[MemoryGraph, Clustering, dict[int, str]]:
        """The stored graph (memory ids as node names), its communities and labels."""
        ctx = self.ctx
        self.labeller.refresh()
        with ctx.lock:
            ids_of = gstore.rowid_ids(ctx.conn)
            rowids = sorted(ids_of)
            links = gstore.all_links(ctx.conn)
            mentions = gstore.all_mentions(ctx.conn)
            membership = gstore.all_membership(ctx.conn)
            rows = gstore.list_communities(ctx.conn)
            modularity = gstore.state_get(ctx.conn, "modularity")
        pos = {r: i for i, r in enumerate(rowids)}
        src = [pos[a] for a, b, _ in links if a in pos and b in pos]
        dst = [pos[b] for a, b, _ in links if a in pos and b in pos]
        w = [s for a, b, s in links if a in pos and b in pos]
        ids = [ids_of[r] for r in rowids]
        graph = build_memory_graph(ids, src, dst, w, {ids_of[r]: [str(e) for e in mentions.get(r, ())] for r in rowids},
                                   ctx.params.graph)
        # display ids: by size, 0 = largest (stored ids drift as memories arrive)
        order = {row.id: i for i, row in enumerate(rows)}
        member_of = {ids_of[r]: order[c] for r, c in membership.items() if r in ids_of and c in order}
        sizes = Counter(member_of.values())
        clustering = Clustering(member_of, float(modularity) if modularity else float("nan"), float("nan"),
                                len(rows), dict(sizes))
        labels = {order[row.id]: row.label for row in rows}
        return graph, clustering, labels

    def export(self, path: str | Path, fmt: str = "json") -> dict[str, Any]:
        """Write the graph (ids, weights, communities, labels; never memory text)."""
        from ...graph.export import write_graphml, write_json

        graph, clustering, labels = self.snapshot()
        if fmt == "json":
            out = write_json(graph, path, clustering.membership, labels, clustering.modularity)
        elif fmt == "graphml":
            out = write_graphml(graph, path, clustering.membership, labels)
        else:
            raise ValidationError(f"unknown export format {fmt!r}; use graphml or json")
        return {"path": str(out), "format": fmt, "nodes": graph.n_nodes, "edges": graph.n_edges,
                "communities": clustering.n_communities}

    def export_dict(self) -> dict[str, Any]:
        from ...graph.export import to_json_dict

        graph, clustering, labels = self.snapshot()
        return to_json_dict(graph, clustering.membership, labels, clustering.modularity)

    def plot(self, path: str | Path, *, max_labels: int = 12) -> dict[str, Any]:
        """PNG of the communities (largest 20 coloured, top labels drawn)."""
        from ...graph.plot import plot_communities

        graph, clustering, labels = self.snapshot()
        out = plot_communities(graph, clustering, labels, path, max_labels=max_labels)
        return {"path": str(out), "nodes": graph.n_nodes, "edges": graph.n_edges,
                "communities": clustering.n_communities}
