"""Composition root: Settings -> connection -> migrations -> embedder -> services.

Everything that needs the database or the model gets it from an App; nothing opens
its own connection or reads configuration.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .config import Settings, default_cache_dir
from .db import connect, migrate, optimize
from .db.connection import store_exists
from .db.migrate import applied_versions
from .embedding import Embedder, SentenceTransformerEmbedder
from .errors import StoreError
from .models import Stats
from .services.agents import AgentService
from .services.authority import OPERATOR, Caller
from .services.feedback import FeedbackService
from .services.forget import ForgetService
from .services.erasure import ErasureService
from .services.memories import MemoryService
from .services.trust import TrustService
from .store import erasure as estore
from .store import memories as mstore
from .store import ledger as mlstore
from .store import shards as shstore
from .store import vectors as vstore
from .trust.chain import load_or_create_key

__all__ = ["App", "open_app", "missing_store_message"]

log = logging.getLogger(__name__)

def missing_store_message(db: Path) -> str:
    if db.parent.is_dir():
        where = "no such file"
    elif db.parent.exists():
        where = f"{db.parent} is a file, not a directory"
    else:
        where = f"{db.parent} does not exist"
    return (f"no memoryd store at {db} ({where}): check --db, --home, MEMORYD_DB and MEMORYD_HOME; "
            f"a command that writes creates it (memoryd --db {db} add TEXT, or import FILE)")


_shared_embedders: dict[tuple, SentenceTransformerEmbedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(path: Path, max_seq_length: int = 256, *, backend: str = "auto",
                    cache_dir: Path | None = None) -> SentenceTransformerEmbedder:
    """One model per process, path and backend: loading costs seconds and ~100 MB."""
    cache_dir = cache_dir or default_cache_dir()
    key = (str(Path(path).absolute()), max_seq_length, backend, str(cache_dir))  # not resolve(): the name comes from the path given
    with _shared_lock:
        emb = _shared_embedders.get(key)
        if emb is None:
            emb = _shared_embedders[key] = SentenceTransformerEmbedder(
                path, max_seq_length=max_seq_length, backend=backend, cache_dir=cache_dir)
        return emb


class App:
    def __init__(
        self, settings: Settings, *, embedder: Embedder | None = None, clock: Callable[[], float] = time.time,
        create: bool = True,
    ):
        """``create=False``: the store must exist already (read-only commands on a path the
        user gave: a typo there must not look like an empty store)."""
        if not create and not store_exists(settings.db_path):
            raise StoreError(missing_store_message(settings.db_path))
        self.settings = settings
        self.clock = clock  # every service's time (benchmarks simulate days passing)
        self.conn = connect(settings.db_path, busy_timeout_ms=settings.busy_timeout_ms, store=True)
        self.lock = threading.RLock()
        with self.lock:
            try:
                migrate(self.conn, settings.migrations_dir)
            except BaseException:  # a newer store, a failed migration: leave no connection open
                self.conn.close()
                raise
        self._embedder = embedder
        self._memories: MemoryService | None = None
        self._master_key: bytes | None = None
        self._resume_erasures()
        self._resume_model_edits()

    def master_key(self) -> bytes:
        """The one secret behind every keyed MAC (trust evidence, erasure receipts, the model
        ledger): read, or created with mode 0600, from ``settings.key_path`` on first use and
        kept. Each service derives its own sub-key from it; raises TrustError if the file is
        unusable (too short, group/world readable, a symlink)."""
        with self.lock:
            if self._master_key is None:
                self._master_key = load_or_create_key(self.settings.key_path)
            return self._master_key

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            st = self.settings
            self._embedder = shared_embedder(st.resolved_model_path(), backend=st.embed_backend,
                                             cache_dir=st.cache_dir)
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
                clock=self.clock,
            )
            self.trust  # noqa: B018 - every write and recall goes through trust
            self.graph  # noqa: B018 - the graph follows every insert and delete
        return self._memories

    @property
    def trust(self) -> TrustService:
        """Provenance trust: evidence on writes, trust-ranked recall, quarantine (services/trust/)."""
        if getattr(self, "_trust", None) is None:
            self._trust = TrustService(self.conn, self.memories, key=self.master_key,
                                       lock=self.lock, clock=self.clock).install()
        return self._trust

    @property
    def graph(self):  # -> services.graph.GraphService
        """Knowledge graph: entities, kNN links, Leiden communities, expansion (services/graph/)."""
        if getattr(self, "_graph", None) is None:
            memories = self.memories  # may itself create the graph (it installs it)
            if getattr(self, "_graph", None) is None:
                from .services.graph import GraphService

                self._graph = GraphService(self.conn, memories, lock=self.lock, settings=self.settings,
                                           clock=self.clock).install()
        return self._graph

    @property
    def models(self):  # -> services.ledger.ModelLedgerService
        """Local models adapted on memories, their ledger and STAMP edits (services/ledger.py)."""
        if getattr(self, "_models", None) is None:
            from .services.ledger import ModelLedgerService

            self._models = ModelLedgerService(self.conn, lock=self.lock, settings=self.settings,
                                              key=self.master_key, clock=self.clock, memories=lambda: self.memories)
            # an edit verified and promoted: seal the receipts of the erasures that waited for it
            self._models.jobs.on_done = lambda: self.erasure.resume_pending(wait=True)
        return self._models

    @property
    def agents(self) -> AgentService:
        """Agents, tokens and private namespaces (services/agents.py)."""
        if getattr(self, "_agents", None) is None:
            self._agents = AgentService(self.conn, lock=self.lock, clock=self.clock,
                                        max_destructive=self.settings.mcp_max_destructive)
        return self._agents

    @property
    def feedback(self) -> FeedbackService:
        """Useful / wrong / harmful events about memories (services/feedback.py)."""
        if getattr(self, "_feedback", None) is None:
            self._feedback = FeedbackService(self.conn, self.memories, lock=self.lock, clock=self.clock)
        return self._feedback

    @property
    def forgetting(self) -> ForgetService:
        """`forget`, the same use case for the CLI and MCP (services/forget.py)."""
        if getattr(self, "_forgetting", None) is None:
            self._forgetting = ForgetService(memories=lambda: self.memories, trust=lambda: self.trust,
                                             guard=lambda ids: self.models.guard_forget(ids),
                                             files=lambda mems: self.erasure.scrub_files(mems))
        return self._forgetting

    @property
    def erasure(self) -> ErasureService:
        """GDPR erasure: plans, execution, receipts (services/erasure/)."""
        if getattr(self, "_erasure", None) is None:
            self._erasure = ErasureService(self.conn, lock=self.lock, settings=self.settings,
                                           key=self.master_key, memories=lambda: self.memories)
            for derived in (self.graph, self.models):  # derived stores erase with the memories
                self._erasure.register_hook(derived)
        return self._erasure

    def _resume_erasures(self) -> None:
        """An erasure interrupted by a crash is finished on the next open."""
        if not self._has_pending_erasure():
            return
        try:
            self.erasure.resume_pending()
        except Exception as exc:  # noqa: BLE001 - never block opening; `memoryd erase resume` retries
            log.warning("could not resume an interrupted erasure: %s", exc)

    def start_erasure_sweeper(self, interval_s: float | None = None):  # -> ErasureSweeper | None
        """For a long-running process (`serve`, `ui`): every `interval_s` (default
        settings.erasure_sweep_s; 0: none) finish erasures left pending, here or by another
        process, on a background thread (services/erasure/sweeper.py). Idempotent; stopped
        by `stop_erasure_sweeper()` or `close()`."""
        from .services.erasure.sweeper import SETTLED_S, ErasureSweeper

        interval = self.settings.erasure_sweep_s if interval_s is None else interval_s
        if interval <= 0 or getattr(self, "_closed", False):
            return None
        sweeper = getattr(self, "_sweeper", None)
        if sweeper is None:
            sweeper = self._sweeper = ErasureSweeper(
                has_pending=self._has_pending_erasure, resume=lambda: self.erasure.resume_pending(settled_s=SETTLED_S),
                lock_path=Path(str(self.settings.db_path) + "-erasure.lock"), interval_s=interval)
        return sweeper.start()

    def stop_erasure_sweeper(self) -> None:
        sweeper = getattr(self, "_sweeper", None)
        if sweeper is not None:
            sweeper.stop()

    def _has_pending_erasure(self) -> bool:
        """One indexed read, without building the erasure service (its graph and model hooks)."""
        with self.lock:
            return estore.has_pending(self.conn)

    def _resume_model_edits(self) -> None:
        """Model edits an earlier process left pending run again, on a background thread."""
        with self.lock:
            if not mlstore.list_jobs(self.conn, state="pending") and not shstore.list_retrain_jobs(
                    self.conn, state="pending"):
                return
        self.models.jobs.start()

    def stats(self, caller: Caller = OPERATOR) -> Stats:
        """Counts and sizes. For an agent: only namespaces it can read, and per-writer counts
        and the file sizes only when no namespace is hidden from it (they would reveal
        private writers, and how much they write: docs/security.md)."""
        caller.require("read", "read statistics")
        p = self.settings.db_path
        wal = Path(str(p) + "-wal")
        with self.lock:
            spaces = {ns: n for ns, n in mstore.counts_by(self.conn, "namespace").items() if caller.can_use(ns)}
            hidden = len(spaces) < len(mstore.counts_by(self.conn, "namespace")) and not caller.operator
            sizes_hidden = hidden or (bool(caller.denied) and not caller.operator)  # even while still empty
            return Stats(
                memories=sum(spaces.values()),
                namespaces=spaces,
                agents={} if hidden else mstore.counts_by(self.conn, "agent_id"),
                db_bytes=None if sizes_hidden else (p.stat().st_size if p.exists() else 0),
                wal_bytes=None if sizes_hidden else (wal.stat().st_size if wal.exists() else 0),
                embedding_model=self._embedder.name if self._embedder is not None else None,
                vectors=sum(spaces.values()) if hidden else vstore.count_vectors(self.conn),
                schema_version=max(applied_versions(self.conn) or {0}),
            )

    def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        self.stop_erasure_sweeper()
        if getattr(self, "_erasure", None) is not None:
            self._erasure.close()  # stop in-process retries of incomplete erasures
        if getattr(self, "_models", None) is not None:
            self._models.close()  # let a running model edit finish (or leave it pending)
        with self.lock:
            try:
                optimize(self.conn, wait_ms=100)
            except StoreError as exc:  # locked, read-only or full: the command's work is done
                log.debug("PRAGMA optimize skipped: %s", exc)
            finally:
                self.conn.close()

    def __enter__(self) -> "App":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_app(settings: Settings, **kw) -> App:
    return App(settings, **kw)
