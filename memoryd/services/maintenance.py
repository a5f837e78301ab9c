"""Store upkeep outside the use cases: a WAL checkpoint, and a bulk load of memories whose
vectors were computed elsewhere (large synthetic stores for `memoryd bench`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from ulid import ULID

from ..db import checkpoint_truncate, transaction
from ..models import NewMemory
from ..store import memories as mstore
from ..store import vectors as vstore
from .memories import content_hash

if TYPE_CHECKING:
    from ..app import App

__all__ = ["checkpoint", "load_with_vectors"]


def checkpoint(app: App) -> bool:
    """Copy the WAL into the database file and truncate it (False when readers kept it busy)."""
    with app.lock:
        return checkpoint_truncate(app.conn)


def load_with_vectors(app: App, items: Sequence[NewMemory], vectors: np.ndarray, model: str) -> int:
    """Insert `items` with their `vectors` (n, dim) under `model`, in one transaction: rows,
    FTS and vectors are real; the embedder, deduplication and the listeners (graph, trust)
    are skipped. Operator only: no caller, no authority check. Returns the rows written;
    the RAM indexes load them on their next sync."""
    assert vectors.ndim == 2 and len(items) == vectors.shape[0]
    now = time.time()
    with app.lock, transaction(app.conn):
        rowids = [mstore.insert_memory(app.conn, str(ULID()), nm, content_hash(nm.content), now) for nm in items]
        vstore.insert_vectors(app.conn, rowids, vectors, model)
    return len(rowids)
