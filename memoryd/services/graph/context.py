"""The state every collaborator of the graph service shares, in one explicit object."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...db.driver import sqlite3
from .params import GraphParams
from .records import CommunityInfo

if TYPE_CHECKING:
    from ..memories import MemoryService

__all__ = ["GraphContext"]


@dataclass
class GraphContext:
    """One per :class:`~memoryd.services.graph.GraphService`. ``params`` may be replaced at
    run time (``GraphService.params = ...``): collaborators read it from here on every use."""

    conn: sqlite3.Connection
    memories: MemoryService  # its RAM vector index, embedder name and get(id)
    lock: threading.RLock
    clock: Callable[[], float]
    params: GraphParams
    version: int = 0  # bumped on every graph change made through the service
    views: dict[tuple, list[CommunityInfo]] = field(default_factory=dict)  # filtered community views

    def changed(self) -> None:
        """The graph changed: a new version, and cached views of the old one dropped."""
        self.version += 1
        self.views.clear()
