"""What the graph service returns: plain values, each with ``to_dict`` for the adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CommunityInfo", "RelatedMemory", "RebuildReport"]


@dataclass(frozen=True)
class CommunityInfo:
    """A community as shown: its id, how many members, a label of its top terms (weighted)."""

    id: int  # numbered by its smallest member node: stable for a given graph and seed
    size: int  # members (memories)
    label: str  # its top terms joined, for people
    terms: list[tuple[str, float]] = field(default_factory=list)  # (term, weight), best first

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "size": self.size, "label": self.label,
                "terms": [[t, round(w, 4)] for t, w in self.terms]}


@dataclass(frozen=True)
class RelatedMemory:
    """A memory linked to another one, and by what: a similarity link, shared entities, or both."""

    id: str
    namespace: str
    content: str
    weight: float  # link strength in [0, 1]
    similarity: float  # cosine of the similarity link, 0 if none
    entities: list[str]  # shared entities ("kind:value"), strongest first
    community: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "namespace": self.namespace, "content": self.content,
                "weight": round(self.weight, 4), "similarity": round(self.similarity, 4),
                "via": ("similar+entity" if self.similarity and self.entities
                        else "similar" if self.similarity else "entity"),
                "entities": self.entities, "community": self.community}


@dataclass(frozen=True)
class RebuildReport:
    """What one rebuild produced, with the seconds spent per step (read, knn, leiden, write)."""

    memories: int
    links: int
    edges: int
    communities: int
    modularity: float
    seconds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"memories": self.memories, "links": self.links, "edges": self.edges,
                "communities": self.communities, "modularity": round(self.modularity, 4),
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}
