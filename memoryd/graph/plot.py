"""Render the memory graph's communities to a PNG (matplotlib, Agg; no display, no cairo).

Layout is community-aware so 1k+ nodes stay readable:

1. the largest ``max_groups`` communities each get a disc; all smaller ones
   share one "other" disc (drawn grey);
2. disc centres come from a weighted Fruchterman-Reingold layout of the
   community meta-graph (so linked communities sit close), then a few passes
   push overlapping discs apart;
3. inside each disc the members get their own Fruchterman-Reingold layout,
   scaled to a radius ~ sqrt(size).

The top ``max_labels`` communities are labelled at their disc centres.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import igraph as ig
import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from memoryd.graph._rng import seeded_igraph
from memoryd.graph.communities import Clustering
from memoryd.graph.memgraph import MemoryGraph, to_igraph

__all__ = ["community_layout", "plot_communities"]

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]


def _unit_disc(xy: F64) -> F64:
    """Centre a local layout and scale it into the unit disc."""
    if xy.shape[0] == 1:
        return np.zeros((1, 2))
    xy = xy - xy.mean(axis=0)
    r = np.sqrt((xy**2).sum(axis=1)).max()
    return xy / r if r > 0 else xy


def _separate(centres: F64, radii: F64, passes: int = 60) -> F64:
    """Push apart overlapping discs (pairwise, a few passes; groups are few)."""
    c = centres.copy()
    for _ in range(passes):
        moved = False
        for i in range(len(c)):
            d = c - c[i]
            dist = np.sqrt((d**2).sum(axis=1))
            need = radii + radii[i] + 0.15 * radii.mean()
            overlap = (dist < need) & (np.arange(len(c)) != i)
            for j in np.flatnonzero(overlap):
                direction = d[j] / dist[j] if dist[j] > 1e-9 else np.array([1.0, 0.0])
                push = (need[j] - dist[j]) / 2
                c[j] += direction * push
                c[i] -= direction * push
                moved = True
        if not moved:
            break
    return c


def community_layout(
    graph: MemoryGraph,
    clustering: Clustering,
    *,
    max_groups: int = 20,
    seed: int = 0,
) -> tuple[F64, npt.NDArray[np.int64]]:
    """Node positions (n, 2) and each node's display group (-1 = "other").

    Groups ``0..max_groups-1`` are the largest communities (community ids are
    size-ordered, see :func:`memoryd.graph.communities.cluster`).
    """
    n = graph.n_nodes
    comm = np.array([clustering.membership.get(mid, -1) for mid in graph.ids], dtype=np.int64)
    group = np.where((comm >= 0) & (comm < max_groups), comm, -1)
    present = sorted(set(group.tolist()))
    gidx = {g: i for i, g in enumerate(present)}
    node_g = np.array([gidx[g] for g in group.tolist()], dtype=np.int64)
    sizes = np.bincount(node_g, minlength=len(present)).astype(float)
    radii = np.sqrt(sizes)

    with seeded_igraph(seed):
        meta = ig.Graph(n=len(present))
        if graph.n_edges:
            a, b = node_g[graph.src], node_g[graph.dst]
            cross = a != b
            if cross.any():
                lo, hi = np.minimum(a[cross], b[cross]), np.maximum(a[cross], b[cross])
                keys, inv = np.unique(lo * len(present) + hi, return_inverse=True)
                w = np.bincount(inv, weights=graph.weight[cross])
                meta.add_edges(np.column_stack([keys // len(present), keys % len(present)]).tolist())
                meta.es["weight"] = w.tolist()
        if len(present) > 1:
            weights = "weight" if meta.ecount() else None
            centres = np.asarray(meta.layout_fruchterman_reingold(weights=weights).coords, float)
            centres -= centres.mean(axis=0)
            # scale so a typical disc is ~2.5 radii from its nearest neighbour, then de-overlap
            dist = np.sqrt(((centres[:, None] - centres[None]) ** 2).sum(-1))
            np.fill_diagonal(dist, np.inf)
            nearest = float(np.median(dist.min(axis=1))) or 1.0
            centres *= 2.5 * float(np.median(radii)) / nearest
        else:
            centres = np.zeros((1, 2))
        centres = _separate(centres, radii)

        g = to_igraph(graph)
        pos = np.zeros((n, 2))
        for gi in range(len(present)):
            nodes = np.flatnonzero(node_g == gi)
            sub = g.subgraph(nodes.tolist())
            if sub.vcount() > 1:
                weights = "weight" if sub.ecount() else None
                local = np.asarray(sub.layout_fruchterman_reingold(weights=weights).coords, float)
            else:
                local = np.zeros((1, 2))
            pos[nodes] = centres[gi] + _unit_disc(local) * radii[gi]
    return pos, group


def plot_communities(
    graph: MemoryGraph,
    clustering: Clustering,
    labels: Mapping[int, str] | None,
    out_png: str | Path,
    *,
    max_labels: int = 12,
    max_groups: int = 20,
    max_edges: int = 20_000,
    title: str | None = None,
    figsize: tuple[float, float] = (12.0, 12.0),
    dpi: int = 150,
    seed: int = 0,
) -> Path:
    """Draw nodes coloured by community, faint edges, and labels for the top communities.

    Args:
        labels: community id -> text (e.g. :func:`memoryd.graph.labels.label_communities`);
            ``None`` labels communities by id.
        max_edges: edges beyond this are subsampled (seeded) to keep the PNG legible.

    Returns the written path.
    """
    out = Path(out_png)
    pos, group = community_layout(graph, clustering, max_groups=max_groups, seed=seed)
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    ax.set_aspect("equal")

    cmap = _palette(max_groups)
    m = graph.n_edges
    if m:
        rng = np.random.default_rng(seed)
        idx = np.arange(m) if m <= max_edges else np.sort(rng.choice(m, max_edges, replace=False))
        a, b = group[graph.src[idx]], group[graph.dst[idx]]
        inner = (a == b) & (a >= 0)
        for sel, alpha in ((~inner, 0.04), (inner, 0.25)):  # faint bridges first, then intra edges
            e = idx[sel]
            segs = np.stack([pos[graph.src[e]], pos[graph.dst[e]]], axis=1)  # (e, 2, 2)
            edge_colours = [cmap[g] for g in a[sel].tolist()] if alpha > 0.1 else "#555555"
            lw = 0.2 + 0.6 * np.clip(graph.weight[e], 0, 1)
            ax.add_collection(
                LineCollection(list(segs), colors=edge_colours, linewidths=lw, alpha=alpha, zorder=1)
            )

    colours = np.array([cmap[g] if g >= 0 else (0.7, 0.7, 0.7, 0.8) for g in group.tolist()])
    n = graph.n_nodes
    size = float(np.clip(12000.0 / max(n, 1), 3.0, 60.0))
    if n:
        ax.scatter(pos[:, 0], pos[:, 1], s=size, c=colours, linewidths=0, zorder=2)

    for c in sorted({g for g in group.tolist() if g >= 0})[:max_labels]:
        nodes = group == c
        cx, cy = pos[nodes].mean(axis=0)
        text = (labels or {}).get(c) or f"community {c}"
        ax.text(cx, cy, f"{text} ({int(nodes.sum())})", fontsize=9, ha="center", va="center",
                zorder=3, bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": cmap[c], "alpha": 0.85})
    if n:
        pad = 0.05 * max(np.ptp(pos[:, 0]), np.ptp(pos[:, 1]), 1.0)
        ax.set_xlim(pos[:, 0].min() - pad, pos[:, 0].max() + pad)
        ax.set_ylim(pos[:, 1].min() - pad, pos[:, 1].max() + pad)
    ax.set_title(title or f"{n} memories, {clustering.n_communities} communities, "
                 f"modularity {clustering.modularity:.3f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    log.info("wrote community plot %s", out)
    return out


def _palette(k: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    tab20 = colormaps["tab20"].colors  # type: ignore[attr-defined]
    # greys (14, 15) are reserved for the "other" group
    base = [c for i, c in enumerate(tab20) if i not in (14, 15)] + list(colormaps["tab20b"].colors)  # type: ignore[attr-defined]
    return [(*base[i % len(base)], 0.9) for i in range(k)]
