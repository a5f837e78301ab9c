"""Knowledge-graph service (placeholder until the graph store lands): installs nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class GraphService:
    name = "graph"

    def __init__(self, conn, memories, *, lock, settings, clock):
        self.conn, self.memories, self.lock, self.settings, self.clock = conn, memories, lock, settings, clock

    def install(self) -> GraphService:
        return self

    def erase_derived(self, conn, memories: Sequence) -> Mapping[str, int]:
        return {}
