"""Probation: writes older than ``probation_days`` with no negative evidence become
``accepted_write`` (the only way an agent earns trust by writing); run from writes at most
every ``sweep_every_s``, or on demand."""

from __future__ import annotations

from ...db import transaction
from ...store import trust as tstore
from ...trust import Evidence, MemoryFacts, probation_passed
from ...trust.params import DAY
from .context import TrustContext

__all__ = ["Probation"]


class Probation:
    def __init__(self, ctx: TrustContext, *, sweep_every_s: float):
        self.ctx = ctx
        self.sweep_every_s = sweep_every_s

    def due(self, now: float, force: bool = False) -> list[Evidence]:
        """Inside a transaction: the evidence of the writes whose probation ended (none when
        the last sweep is more recent than ``sweep_every_s``, unless ``force``)."""
        conn, ledger, params = self.ctx.conn, self.ctx.ledger, self.ctx.params
        last = float(tstore.state_get(conn, "last_sweep") or 0.0)
        if not force and now - last < self.sweep_every_s:
            return []
        tstore.state_set(conn, "last_sweep", repr(now))
        pending = tstore.pending_writes(conn, now - params.probation_days * DAY)
        if not pending:
            return []
        facts = [MemoryFacts(ledger.mref(w.memory_id), w.author_id, w.written_at) for w in pending]
        flagged = {f.memory_id for f in facts if any(e.weight < 0 for e in ledger.by_memory.get(f.memory_id, ()))}
        tstore.set_probation(conn, [(w.memory_rowid, "rejected" if f.memory_id in flagged else "accepted")
                                    for w, f in zip(pending, facts)])
        return probation_passed(facts, flagged, now, params)

    def sweep(self) -> int:
        """Run the sweep now, in its own transaction; returns how many writes were accepted."""
        ctx = self.ctx
        with ctx.lock:
            with transaction(ctx.conn):
                ctx.ledger.sync()
                evs = self.due(ctx.clock(), force=True)
                ctx.ledger.append(evs)
            ctx.ledger.sync()
            return len(evs)
