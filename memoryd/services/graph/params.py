"""How the graph service builds the graph, keeps it up to date and uses it at recall."""

from __future__ import annotations

from dataclasses import dataclass

from ...graph import GraphConfig, LeidenConfig, ScoredExpandConfig

__all__ = ["GraphParams"]


@dataclass(frozen=True)
class GraphParams:
    """How the graph is built, kept up to date and used at recall."""

    k: int = 10  # similarity neighbours per memory
    threshold: float = 0.5  # minimum cosine for a similarity link (all-MiniLM-L6-v2: related notes ~0.5+)
    graph: GraphConfig = GraphConfig()  # entity weights and hub cap in the clustered graph
    leiden: LeidenConfig = LeidenConfig()
    label_terms: int = 3
    expand: ScoredExpandConfig = ScoredExpandConfig()
    entity_link_cap: int = 50  # expansion ignores entities mentioned by more memories (hubs)
    expand_similarity_weight: float = 0.3  # similarity links count less at recall: the vector leg saw them
    auto_rebuild: bool = True  # re-cluster when enough has changed since the last time
    rebuild_ratio: float = 0.5  # ... i.e. changes >= ratio * size at the last re-cluster
    rebuild_min_changes: int = 20  # ... and at least this many
    inline_rebuild_below: int = 2000  # smaller graphs re-cluster inside the write (milliseconds)
