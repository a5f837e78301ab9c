"""Adaptation for the model ledger: fine-tune a local model on selected memories and record
the new version and what it absorbed (plain or LoRA, or the exact path's shards). A
collaborator of :class:`memoryd.services.ledger.ModelLedgerService` (`ledger.adaptation`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ulid import ULID

from ..db import transaction
from ..db.driver import sqlite3
from ..erasure.exports import shred_tree
from ..errors import EditingError, NotFoundError, ValidationError
from ..models import Memory, SearchFilters
from ..store import erasure as estore
from ..store import ledger as lstore
from ..store import memories as mstore
from .model_shards import ShardedModels

__all__ = ["Adaptation"]

log = logging.getLogger("memoryd.services.ledger")

Progress = Callable[[str, int, int], None]


class Adaptation:
    def __init__(self, conn: sqlite3.Connection, *, lock: threading.RLock, clock: Callable[[], float], device: str,
                 memories: Callable[[], Any], exact: ShardedModels, content_mac: Callable[[str, str], str],
                 show: Callable[[str], dict[str, Any]]):
        self.conn = conn
        self.lock = lock
        self.clock = clock
        self.device = device
        self.memories = memories  # () -> MemoryService
        self.exact = exact
        self.content_mac = content_mac  # the ledger's keyed MAC of (id, content)
        self.show = show  # the ledger's view of one version

    def select(self, *, query: str | None = None, namespace: str | None = None, limit: int = 100) -> list[Memory]:
        """Memories to adapt on: the top `limit` hits of `query` (in `namespace` if given), or
        every memory of `namespace`."""
        if not query and not namespace:
            raise ValidationError("choose the memories to adapt on: a query or a namespace")
        if limit < 1:
            raise ValidationError("limit must be positive")
        svc = self.memories()
        filters = SearchFilters(namespaces=(namespace,)) if namespace else SearchFilters()
        if query:
            from .memories import SearchOptions

            return [h.memory for h in svc.search(query, filters, SearchOptions(limit=min(limit, 1000)))]
        return svc.iter_all(filters)[:limit]

    def adapt(
        self,
        model: Path,
        out: Path,
        *,
        query: str | None = None,
        namespace: str | None = None,
        limit: int = 100,
        name: str | None = None,
        config: Any = None,  # editing.AdaptConfig
        progress: Progress | None = None,
        shards: int = 0,
    ) -> dict[str, Any]:
        """Fine-tune the local model at `model` on the selected memories, save it to `out` and
        record the version and what it absorbed. Never downloads: `model` is a directory.
        `shards` K > 0: the exact path, one LoRA adapter per shard, served routed (model_shards.py)."""
        if shards < 0 or shards > 256:
            raise ValidationError("--shards must be between 0 and 256")
        src, dst = Path(model).expanduser().resolve(), Path(out).expanduser().resolve()
        if src == dst:
            raise ValidationError("--out must differ from --model (the ledger keeps versions apart)")
        if not (src / "config.json").is_file():
            raise ValidationError(f"no local model at {src} (a directory with config.json is expected)")
        if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
            raise ValidationError(f"{dst} exists and is not empty")
        mems = self.select(query=query, namespace=namespace, limit=limit)
        if not mems:
            raise NotFoundError("no memories matched: nothing to adapt on")
        with self.lock:
            parent = lstore.active_at_path(self.conn, str(src))
            epoch = estore.erasure_epoch(self.conn)
        from ..editing import AdaptConfig, AdaptOutcome, adapt_on_memories  # torch, lazily

        cfg = config or AdaptConfig(device=self.device)
        if shards:
            cfg = replace(cfg, lora=True)
        t0 = time.perf_counter()
        adapters: dict = {}
        try:
            if shards:
                adapters, reproduced = self.exact.train(src, dst, mems, shards, cfg, progress)
                results = [r for _, r in adapters.values()]
                outcome = AdaptOutcome(str(dst), sorted(reproduced), sorted({m.id for m in mems} - reproduced),
                                       max(r.epochs for r in results), max(r.final_loss for r in results),
                                       time.perf_counter() - t0)
            else:
                outcome = adapt_on_memories(src, dst, {m.id: m.content for m in mems}, cfg, progress)
        except Exception:
            self._shred_new(dst, adapters)
            raise
        reproduced = set(outcome.absorbed_ids)
        vid = str(ULID())
        with self.lock:
            try:
                with transaction(self.conn):
                    self._check_nothing_erased(mems, parent, epoch)
                    inherited = lstore.absorbed(self.conn, parent.id) if parent else []
                    version = lstore.VersionRow(
                        id=vid, name=name or dst.name, path=str(dst), base=str(src),
                        parent_id=parent.id if parent else None, created_at=self.clock(), status="active",
                        method="adapt-sharded" if shards else "adapt-lora" if getattr(cfg, "lora", False) else "adapt-full",
                        metrics={"memories": len(mems), "reproduced": len(reproduced), "epochs": outcome.epochs,
                                 "final_loss": round(outcome.final_loss, 5), "seconds": round(outcome.seconds, 2),
                                 "inherited": len(inherited), **({"shards": shards} if shards else {})})
                    lstore.insert_version(self.conn, version)
                    rows = {r.memory_id: replace(r, version_id=vid) for r in inherited}
                    rows.update({m.id: lstore.AbsorbedRow(vid, m.id, self.content_mac(m.id, m.content),
                                                          m.id in reproduced) for m in mems})
                    lstore.insert_absorbed(self.conn, rows.values())
                    if shards:
                        self.exact.record_shards(self.conn, dst, src, mems, shards, cfg, adapters)
            except Exception:
                self._shred_new(dst, adapters)  # a model holding erased data must not stay behind
                raise
        log.info("adapted %s on %d memories in %.1fs -> version %s", src, len(mems), time.perf_counter() - t0, vid)
        return {**self.show(vid), "adapt": outcome.to_dict()}

    @staticmethod
    def _shred_new(dst: Path, adapters: Mapping[int, Any]) -> None:
        shred_tree(dst)
        for d, _ in adapters.values():
            shred_tree(d)

    def _check_nothing_erased(self, mems: Sequence[Memory], parent: lstore.VersionRow | None, epoch: int) -> None:
        """An erasure that ran while we trained may have deleted a memory we trained on (or
        edited the parent we started from): then the new weights hold erased data."""
        if estore.erasure_epoch(self.conn) == epoch:
            return
        gone = [m.id for m in mems if (cur := mstore.get_by_id(self.conn, m.id)) is None or cur.content != m.content]
        p = lstore.get_version(self.conn, parent.id) if parent else None
        if gone or (parent is not None and (p is None or p.status != "active")):
            raise EditingError("an erasure removed some of these memories (or edited the base model) while "
                               "adapting; the adapted weights were deleted: run adapt again")

