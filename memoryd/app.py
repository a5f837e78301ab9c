"""Composition root: Settings -> connection -> migrations -> embedder -> services.

Everything that needs the database or the model gets it from an App; nothing opens
its own connection or reads configuration.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from .config import Settings
from .db import connect, migrate
from .db.migrate import applied_versions
from .embedding import Embedder, SentenceTransformerEmbedder
from .models import Stats
from .services.memories import MemoryService
from .store import memories as mstore
from .store import vectors as vstore

__all__ = ["App", "open_app"]

log = logging.getLogger(__name__)

_shared_embedders: dict[tuple[str, int], SentenceTransformerEmbedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(path: Path, max_seq_length: int = 256) -> SentenceTransformerEmbedder:
    """One model per process and path: loading costs seconds and ~100 MB."""
    key = (str(Path(path).resolve()), max_seq_length)
    with _shared_lock:
        emb = _shared_embedders.get(key)
        if emb is None:
            emb = _shared_embedders[key] = SentenceTransformerEmbedder(path, max_seq_length=max_seq_length)
        return emb


class App:
    def __init__(self, settings: Settings, *, embedder: Embedder | None = None):
        self.settings = settings
        self.conn = connect(settings.db_path, busy_timeout_ms=settings.busy_timeout_ms)
        self.lock = threading.RLock()
        with self.lock:
            migrate(self.conn, settings.migrations_dir)
        self._embedder = embedder
        self._memories: MemoryService | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = shared_embedder(self.settings.resolved_model_path())
        return self._embedder

    @property
    def memories(self) -> MemoryService:
        if self._memories is None:
            self._memories = MemoryService(
                self.conn,
                self.embedder,
                max_bytes=self.settings.max_content_bytes,
                lock=self.lock,
                batch_size=self.settings.embed_batch_size,
            )
        return self._memories

    def stats(self) -> Stats:
        p = self.settings.db_path
        wal = Path(str(p) + "-wal")
        with self.lock:
            return Stats(
                memories=mstore.count(self.conn),
                namespaces=mstore.counts_by(self.conn, "namespace"),
                agents=mstore.counts_by(self.conn, "agent_id"),
                db_bytes=p.stat().st_size if p.exists() else 0,
                wal_bytes=wal.stat().st_size if wal.exists() else 0,
                embedding_model=self._embedder.name if self._embedder is not None else None,
                vectors=vstore.count_vectors(self.conn),
                schema_version=max(applied_versions(self.conn) or {0}),
            )

    def close(self) -> None:
        with self.lock:
            try:
                self.conn.execute("PRAGMA optimize")
            finally:
                self.conn.close()

    def __enter__(self) -> "App":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_app(settings: Settings, **kw) -> App:
    return App(settings, **kw)
