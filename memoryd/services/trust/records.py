"""What the trust service returns about agents and hidden memories: plain values with ``to_dict``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...models import Memory
from ...trust import TrustScore
from .snapshot import MemoryTrust

__all__ = ["AgentTrust", "Quarantined", "Purge"]


@dataclass(frozen=True)
class AgentTrust:
    """An agent's standing, with how many of its memories recall hides."""

    agent_id: str
    created_at: float
    score: TrustScore
    memories: int
    quarantined: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent_id,
            "created_at": self.created_at,
            "trust": round(self.score.mean, 4),
            "lower_bound": round(self.score.lower_bound, 4),
            "alpha": round(self.score.alpha, 3),
            "beta": round(self.score.beta, 3),
            "evidence": self.score.n,
            "memories": self.memories,
            "quarantined": self.quarantined,
            "reasons": list(self.score.reasons),
        }


@dataclass(frozen=True)
class Quarantined:
    """A memory recall leaves out, and the trust that hides it."""

    memory: Memory
    trust: MemoryTrust

    def to_dict(self) -> dict[str, Any]:
        return {**self.memory.to_dict(), "trust": self.trust.to_dict()}


@dataclass(frozen=True)
class Purge:
    """The memories a purge deleted, and the erasure receipt when it went through erasure."""

    deleted: list[Memory]
    receipt: Any | None  # the ErasureReceipt when the purge went through the erasure service

    def to_dict(self) -> dict[str, Any]:
        return {
            "deleted": [m.id for m in self.deleted],
            "receipt": getattr(self.receipt, "id", None),
            "verified": None if self.receipt is None else bool(self.receipt.ok),
        }
