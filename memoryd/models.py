"""Plain data carried between layers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["OPERATOR_TOOL", "Provenance", "NewMemory", "Memory", "SearchFilters", "SearchHit", "Stats", "RememberResult"]


OPERATOR_TOOL = "cli"  # provenance.tool of what the operator wrote at the CLI; MCP tools set "mcp"


@dataclass(frozen=True)
class Provenance:
    agent_id: str = "cli"
    session_id: str | None = None
    tool: str | None = None
    source: str | None = None

    @property
    def by_operator(self) -> bool:
        """Written or imported by the operator (the CLI): agents cannot set ``tool``."""
        return self.tool == OPERATOR_TOOL


@dataclass(frozen=True)
class NewMemory:
    content: str
    kind: str = "note"
    tags: tuple[str, ...] = ()
    namespace: str = "default"
    importance: float = 0.5
    provenance: Provenance = field(default_factory=Provenance)
    created_at: float | None = None  # None: now


@dataclass(frozen=True)
class Memory:
    id: str
    rowid: int
    content: str
    kind: str
    tags: tuple[str, ...]
    namespace: str
    importance: float
    created_at: float
    updated_at: float
    content_hash: str
    provenance: Provenance

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("rowid")
        d["tags"] = list(self.tags)
        return d


@dataclass(frozen=True)
class RememberResult:
    memory: Memory
    duplicate: bool  # True: same content already stored in this namespace; nothing new written
    similar: Memory | None = None  # closest other memory of the namespace when nearly the same (supersede it?)
    similarity: float | None = None  # its cosine to the new memory
    supersedes: str | None = None  # id of the memory this write replaced in search


@dataclass(frozen=True)
class SearchFilters:
    namespaces: tuple[str, ...] | None = None  # None: every namespace
    exclude_namespaces: tuple[str, ...] = ()  # e.g. other agents' private namespaces
    tags: tuple[str, ...] = ()  # all must match
    agent_id: str | None = None
    kind: str | None = None
    since: float | None = None
    until: float | None = None

    def is_empty(self) -> bool:
        return (
            self.namespaces is None
            and not self.exclude_namespaces
            and not self.tags
            and self.agent_id is None
            and self.kind is None
            and self.since is None
            and self.until is None
        )


@dataclass(frozen=True)
class SearchHit:
    memory: Memory
    score: float
    legs: dict[str, int]  # leg name -> 1-based rank in that leg ("bm25", "vector", "graph")
    why: str
    trust: float | None = None
    quarantined: bool = False  # below the trust threshold; only returned when asked for

    def to_dict(self) -> dict[str, Any]:
        d = self.memory.to_dict()
        d.update(score=round(self.score, 6), legs=self.legs, why=self.why)
        if self.trust is not None:
            d["trust"] = round(self.trust, 4)
            d["quarantined"] = self.quarantined
        return d


@dataclass(frozen=True)
class Stats:
    memories: int
    namespaces: dict[str, int]
    agents: dict[str, int]
    db_bytes: int | None  # None: an agent from which a namespace is hidden (the size would count it)
    wal_bytes: int | None
    embedding_model: str | None
    vectors: int
    schema_version: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
