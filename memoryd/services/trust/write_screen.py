"""What a write says about its author: content detectors, write bursts, near-duplicate floods,
conflict with or corroboration of the nearest memories of other authors.

The statistics are gathered here (recent writes, cosines from the RAM index, neighbours with
their current trust); :func:`memoryd.trust.screen.screen_write` (pure) turns them into evidence.
"""

from __future__ import annotations

import numpy as np

from ...db.driver import sqlite3
from ...models import Memory
from ...store import agents as astore
from ...store import memories as mstore
from ...store import trust as tstore
from ...trust import Evidence
from ...trust.screen import Neighbour, screen_write
from .context import TrustContext
from .snapshot import Snapshot

__all__ = ["WriteScreen"]


class WriteScreen:
    def __init__(self, ctx: TrustContext):
        self.ctx = ctx

    def screen(self, conn: sqlite3.Connection, memories: list[Memory], vectors: np.ndarray,
               now: float) -> list[Evidence]:
        """Inside the write transaction: record the writes (authors, probation rows) and
        return the evidence about each new memory and its author (none for the operator's).
        A batch of several is an import: no write-pattern checks."""
        ctx = self.ctx
        tstore.ensure_agents(conn, sorted({m.provenance.agent_id for m in memories}), now)
        tstore.add_writes(conn, [(m.rowid, m.provenance.agent_id, now) for m in memories])
        screen, detect = ctx.screen, ctx.detect
        bulk = len(memories) > 1  # an import (MCP writes one at a time): no write-pattern checks
        index = ctx.memories.index
        batch = {m.rowid: vectors[i] for i, m in enumerate(memories)}
        snap = ctx.scorer.snapshot(now)
        private = astore.namespace_owners(conn)
        evs: list[Evidence] = []
        candidates = self._candidates(memories, vectors, index, private)
        for i, m in enumerate(memories):
            if m.provenance.by_operator:
                continue  # the operator is trusted: nothing it writes or imports is evidence
            author = m.provenance.agent_id
            writer = ctx.scorer.facts(author, now)
            sims, times = None, None
            if not bulk:
                own = [r for r in tstore.recent_writes(conn, [author], screen.recent_own + 1) if r != m.rowid]
                cohort = self._cohort(author, writer.created_at)
                near = own[: screen.recent_own] + tstore.recent_writes(conn, cohort, screen.recent_cohort)
                vecs = [v for v in (batch.get(r) if r in batch else index.vector(r) for r in near) if v is not None]
                sims = np.stack(vecs) @ vectors[i] if vecs else np.zeros(0, dtype=np.float32)
                times = tstore.write_times(conn, author, now - detect.burst_window_s)
            evs += screen_write(
                content=m.content, mref=ctx.ledger.mref(m.id), writer=writer, now=now,
                write_times=times, recent_similarities=sims,
                neighbours=self._neighbours(m, candidates[i], snap),
                params=ctx.params, detect=detect, screen=screen,
            )
        return evs

    def _cohort(self, author: str, created_at: float) -> list[str]:
        w = self.ctx.params.cohort_window_s
        return [a for a, t in tstore.agent_facts(self.ctx.conn).items() if a != author and abs(t - created_at) <= w]

    def _candidates(self, memories: list[Memory], vectors: np.ndarray, index, private: dict[str, str]) -> list[list]:
        """Nearest stored memories of each new one, in the namespaces its author may read.
        The author's own copies must not hide the memories of others (a flood of five
        near-identical poisoned notes would otherwise fill every slot): look further, skip
        them later. One matrix product per group of authors with the same view (imports)."""
        k = self.ctx.screen.neighbours + self.ctx.screen.neighbour_scan
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, m in enumerate(memories):
            author = m.provenance.agent_id
            groups.setdefault(tuple(ns for ns, owner in private.items() if owner != author), []).append(i)
        out: list[list] = [[] for _ in memories]
        for exclude, idx in groups.items():
            for i, hits in zip(idx, index.search_many(vectors[idx], k, index.namespace_mask(None, exclude))):
                out[i] = hits
        return out

    def _neighbours(self, m: Memory, hits: list, snap: Snapshot) -> list[Neighbour]:
        ctx = self.ctx
        hits = [h for h in hits if h.score >= ctx.detect.conflict_sim and h.rowid != m.rowid]
        if not hits:
            return []
        mems = mstore.get_by_rowids(ctx.conn, [h.rowid for h in hits])
        out: list[Neighbour] = []
        for h in hits:
            nm = mems.get(h.rowid)
            if nm is None or nm.provenance.agent_id == m.provenance.agent_id:
                continue
            mt = snap.memory(nm.id, nm.provenance.agent_id, nm.created_at, nm.provenance.by_operator)
            out.append(Neighbour(ctx.ledger.mref(nm.id), ctx.scorer.facts(nm.provenance.agent_id, snap.now),
                                 nm.content, h.score, mt.mean))
        # trusted neighbours first: copies by a swarm of fresh identities must not hide the
        # established memory they contradict (stable: by similarity within each group)
        out.sort(key=lambda nb: nb.trust < ctx.screen.trusted_neighbour)
        return out[: ctx.screen.neighbours]
