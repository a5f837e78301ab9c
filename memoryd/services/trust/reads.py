"""Reading trust: agents, memories and what recall hides, scored at the clock's now."""

from __future__ import annotations

from collections.abc import Callable

from ...errors import NotFoundError
from ...models import OPERATOR_TOOL
from ...store import memories as mstore
from ...store import trust as tstore
from ...trust import TrustScore
from .context import TrustContext
from .records import AgentTrust, Quarantined
from .snapshot import MemoryTrust, Snapshot

__all__ = ["TrustReads"]


class TrustReads:
    def __init__(self, ctx: TrustContext, refresh: Callable[[], None]):
        self.ctx = ctx
        self.refresh = refresh  # mirror new evidence and feedback before scoring

    def snapshot(self) -> Snapshot:
        self.refresh()
        return self.ctx.snapshot()

    def known(self, agent_id: str) -> str:
        """``agent_id``, or NotFoundError when trust has never heard of it."""
        if agent_id not in tstore.agent_facts(self.ctx.conn, [agent_id]):
            raise NotFoundError(f"no agent named {agent_id!r} is known to trust")
        return agent_id

    def agent_trust(self, agent_id: str) -> TrustScore:
        with self.ctx.lock:
            self.known(agent_id)
            return self.snapshot().agent(agent_id)

    def memory_trust(self, memory_id: str) -> MemoryTrust:
        with self.ctx.lock:
            m = self.ctx.memories.get(memory_id)
            return self.snapshot().memory(m.id, m.provenance.agent_id, m.created_at, m.provenance.by_operator)

    def _all_memory_trust(self, snap: Snapshot) -> list[tuple[int, MemoryTrust]]:
        return [(rowid, snap.memory(mid, author, created, tool == OPERATOR_TOOL))
                for rowid, mid, author, created, tool in tstore.memory_rows(self.ctx.conn)]

    def agents(self) -> list[AgentTrust]:
        """Every agent trust knows of (writers, feedback givers, registered agents)."""
        ctx = self.ctx
        with ctx.lock:
            snap = self.snapshot()
            facts = tstore.agent_facts(ctx.conn)
            counts = tstore.write_counts(ctx.conn)
            quarantined: dict[str, int] = {}
            for _, mt in self._all_memory_trust(snap):
                quarantined[mt.author_id] = quarantined.get(mt.author_id, 0) + mt.quarantined
            return [AgentTrust(a, t, snap.agent(a), counts.get(a, 0), quarantined.get(a, 0))
                    for a, t in sorted(facts.items())]

    def agent(self, agent_id: str) -> AgentTrust:
        return next(a for a in self.agents() if a.agent_id == self.known(agent_id))

    def quarantined(self) -> list[Quarantined]:
        """Memories recall leaves out, lowest trust first."""
        ctx = self.ctx
        with ctx.lock:
            snap = self.snapshot()
            bad = [(rowid, mt) for rowid, mt in self._all_memory_trust(snap) if mt.quarantined]
            mems = mstore.get_by_rowids(ctx.conn, [r for r, _ in bad])
        out = [Quarantined(mems[r], mt) for r, mt in bad if r in mems]
        return sorted(out, key=lambda q: (q.trust.mean, q.memory.id))
