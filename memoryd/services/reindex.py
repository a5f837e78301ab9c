"""Re-embed the memories whose vector is missing or was made by another model.

Vectors are stored with the name of the model that made them, and the in-RAM index loads
only the current model's. So after `--model` / `MEMORYD_MODEL` changes, the older memories
drop out of the vector leg until they are re-embedded (`memoryd doctor` says so). Reindexing
works in batches. Each batch is embedded outside the lock and written in its own
transaction, replacing the old vector row: an interrupted run loses nothing, and running it
again continues where it stopped. Similarity links of the graph come from the vectors, so the
CLI re-clusters afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from ..db import transaction
from ..store import memories as mstore
from ..store import vectors as vstore
from .memories import MemoryService

__all__ = ["ReindexReport", "vector_coverage", "reindex"]


@dataclass(frozen=True)
class ReindexReport:
    """One reindex run: the current model, how many memories got a new vector, out of how many."""

    model: str  # the embedder's model name, the one vectors are now stored under
    reembedded: int  # memories that got a new vector in this run
    memories: int  # memories in the store
    seconds: float
    per_s: float  # reembedded / seconds

    def to_dict(self) -> dict:
        return asdict(self)


def vector_coverage(svc: MemoryService) -> tuple[int, dict[str, int]]:
    """(memories, vectors per model name)."""
    with svc.lock:
        return mstore.count(svc.conn), vstore.count_by_model(svc.conn)


def reindex(svc: MemoryService, *, batch: int = 512, progress: Callable[[int, int], None] | None = None
            ) -> ReindexReport:
    """Embed every memory lacking a vector of the current model; `progress(done, todo)`."""
    svc.embedder_ready()
    model = svc.embedder.name
    total, by_model = vector_coverage(svc)
    todo = total - by_model.get(model, 0)
    t0 = time.perf_counter()
    done, after = 0, 0
    while True:
        with svc.lock:
            rows = vstore.without_vector(svc.conn, model, after, batch)
        if not rows:
            break
        after = rows[-1][0]
        vecs = svc.embedder.encode([content for _, content in rows], batch_size=svc.batch_size)  # (b, dim)
        with svc.lock, transaction(svc.conn):
            alive = vstore.existing_rowids(svc.conn, [r for r, _ in rows])  # erased meanwhile: skip
            keep = [i for i, (r, _) in enumerate(rows) if r in alive]
            if keep:
                vstore.insert_vectors(svc.conn, [rows[i][0] for i in keep], vecs[keep], model)
        done += len(keep)
        if progress is not None:
            progress(done, max(todo, done))
    svc.reset_index()  # reload the RAM index with the new vectors on next use
    secs = time.perf_counter() - t0
    return ReindexReport(model, done, total, round(secs, 2), round(done / secs, 1) if secs > 0 and done else 0.0)
