"""Trust at recall (``MemoryService.read_policy``): relevance x trust ranking, quarantined
memories left out (or marked), and a request-local demotion of PoisonedRAG-style stuffing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ...models import SearchHit
from ...trust import rank_score
from ...trust.screen import recall_stuffing
from .context import TrustContext
from .snapshot import MemoryTrust

__all__ = ["RecallPolicy"]


class RecallPolicy:
    def __init__(self, ctx: TrustContext, refresh: Callable[[], None]):
        self.ctx = ctx
        self.refresh = refresh  # mirror new evidence and feedback before scoring

    def apply(self, hits: list[SearchHit], query: str, include_quarantined: bool, now: float,
              limit: int | None = None) -> list[SearchHit]:
        """Re-rank fused hits by relevance x trust; leave quarantined memories out (or mark
        them). A hit that poses this very query as a question and answers it (PoisonedRAG)
        sinks in *this* request only: reads are never evidence against authors."""
        ctx = self.ctx
        params = ctx.params
        with ctx.lock:
            self.refresh()
            posed = recall_stuffing(query, [(h.memory.id, h.memory.content)
                                            for h in hits[: ctx.screen.recall_candidates]], ctx.detect)
            snap = ctx.scorer.snapshot(now)
            scored = []
            floor = params.recall_stuffing_floor
            for i, h in enumerate(hits):
                m = h.memory
                mt = snap.memory(m.id, m.provenance.agent_id, m.created_at, m.provenance.by_operator)
                if mt.quarantined and not include_quarantined:
                    continue
                rank = rank_score(max(0.0, h.score), mt.mean, params, mt.score.penalty)
                sunk = m.id in posed and not mt.operator
                if sunk:
                    rank *= 1.0 - (1.0 - floor) * posed[m.id]
                scored.append((mt.quarantined, sunk, -rank, i, h, mt))
        # a memory that poses this very query and answers it (PoisonedRAG) comes after every
        # other hit of this request (five copies would otherwise set the relevance scale);
        # quarantined memories (only here when asked for) after everything
        scored.sort(key=lambda t: t[:4])
        out = []
        for _, sunk, neg_rank, _, h, mt in scored[:limit]:  # explained only when returned
            why = f"{h.why} + {_trust_why(mt)}" if h.why else _trust_why(mt)
            if sunk:
                why += f"; asks this very question and answers it ({posed[h.memory.id]:.2f}): last in this request"
            out.append(replace(h, score=-neg_rank, trust=mt.mean, why=why, quarantined=mt.quarantined))
        return out


def _trust_why(mt: MemoryTrust) -> str:
    if mt.quarantined:
        head = f"QUARANTINED: {mt.reason}"
    elif mt.operator:
        head = f"trust {mt.mean:.2f} (written by the operator)"
    elif mt.released:
        head = f"trust {mt.mean:.2f}, released by the operator"
    else:
        head = f"trust {mt.mean:.2f} (author {mt.author_id} {mt.author.mean:.2f})"
    own = [r for r in mt.score.reasons[1:] if not r.startswith("ignored")]
    return f"{head}; {own[0]}" if own and mt.mean < 0.75 else head
