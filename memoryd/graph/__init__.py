"""The pure compute core of memoryd's knowledge graph.

Reading order:

* :mod:`~memoryd.graph.entities`   text -> entities (code, path, url, email, name, phrase, handle)
* :mod:`~memoryd.graph.knn`        vectors -> exact kNN similarity edges; one-vector neighbours
* :mod:`~memoryd.graph.memgraph`   similarity + shared-entity edges -> :class:`MemoryGraph`
* :mod:`~memoryd.graph.communities` Leiden clustering; incremental community assignment
* :mod:`~memoryd.graph.labels`     c-TF-IDF labels from current member texts
* :mod:`~memoryd.graph.expand`     graph-expanded retrieval (weighted RRF)
* :mod:`~memoryd.graph.metrics`    purity / NMI / ARI against known topics
* :mod:`~memoryd.graph.plot`       PNG of the communities (matplotlib Agg)
* :mod:`~memoryd.graph.export`     GraphML / JSON export and re-import

No SQL, no clock, no configuration reads: dataclasses and arrays in and out.
``plot`` (matplotlib) is imported lazily, on first use.
"""

from memoryd.graph.communities import Clustering, LeidenConfig, assign_community, cluster
from memoryd.graph.entities import ENTITY_KINDS, Entity, EntityKind, extract_entities
from memoryd.graph.expand import (
    ExpandConfig,
    ExpandedHit,
    Link,
    NeighbourSource,
    ScoredExpandConfig,
    ScoredHit,
    Via,
    adjacency,
    expand_hits,
    expand_scored,
)
from memoryd.graph.export import (
    GraphExport,
    from_json_dict,
    read_graphml,
    read_json,
    to_json_dict,
    write_graphml,
    write_json,
)
from memoryd.graph.knn import KnnEdges, Neighbours, knn_edges, neighbours_of
from memoryd.graph.labels import community_terms, label_communities, texts_by_community, tokenize
from memoryd.graph import memgraph as _memgraph
from memoryd.graph.memgraph import (
    GraphConfig,
    MemoryGraph,
    build_memory_graph,
    entity_keys,
    entity_members,
    link_weights_for_new,
    to_igraph,
)
from memoryd.graph.metrics import CommunityScores, nmi, purity, score_communities

_LAZY = {"community_layout", "plot_communities"}  # matplotlib loads only when plotting


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from memoryd.graph import plot

        return getattr(plot, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    # entities
    "ENTITY_KINDS",
    "Entity",
    "EntityKind",
    "extract_entities",
    # knn
    "KnnEdges",
    "Neighbours",
    "knn_edges",
    "neighbours_of",
    # communities
    "Clustering",
    "LeidenConfig",
    "assign_community",
    "cluster",
    # labels
    "community_terms",
    "label_communities",
    "texts_by_community",
    "tokenize",
    # expansion
    "ExpandConfig",
    "ExpandedHit",
    "Link",
    "NeighbourSource",
    "Via",
    "adjacency",
    "expand_hits",
    "ScoredExpandConfig",
    "ScoredHit",
    "expand_scored",
    # metrics
    "CommunityScores",
    "nmi",
    "purity",
    "score_communities",
    # plot
    "community_layout",
    "plot_communities",
    # export
    "GraphExport",
    "from_json_dict",
    "read_graphml",
    "read_json",
    "to_json_dict",
    "write_graphml",
    "write_json",
]
__all__ += _memgraph.__all__  # the memory graph: edges -> MemoryGraph
