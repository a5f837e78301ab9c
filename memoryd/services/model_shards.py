"""The exact path: models built from per-shard LoRA adapters, and shard retraining on erasure.

A collaborator of :class:`memoryd.services.ledger.ModelLedgerService` (`ledger.exact`); the
torch side is memoryd/editing/shards.py (docs/editing.md, "Exact unlearning").

  adapt(..., shards=K)   memory -> shard by a keyed-free hash of its id (sha256 mod K, stable);
                         adapter k trained from the base on shard k only, into
                         <out>.shards/<k>-<ulid>/; the served model <out> is a routed model
                         (editing/routing.py): <out>/shard-<k>/ = base + ΔW_k merged, one per
                         shard, and routing.json; each input is answered by the shard under
                         which it is most likely. The ledger records the version, the shards
                         and which shard absorbed which memory (what the routed model
                         reproduces).
  inside an erasure's delete transaction (`record`): the erased memories' shard rows go, and
                         one retrain job per model names the shards that held them. The STAMP
                         edit job (model_jobs.py) is recorded alongside and runs first, so the
                         served model stops answering as soon as it can.
  after the commit (`run_pending`, on the edit thread after the STAMP jobs, or `models resume`):
                         retrain the named shards from the base on their remaining memories
                         (no lock held), recompose every shard (base + its new or kept
                         adapter: a STAMP-edited shard is replaced too) into a staging routed
                         model, then in one short
                         transaction record the new version (method 'shard-retrain', parent
                         the STAMP-edited version, now 'superseded') and close the jobs; the
                         ledger's promotion renames the staging directory into place and
                         shreds the STAMP-edited weights; the old adapters of the retrained
                         shards are shredded. The other shards' adapters are not touched.
  a crash at any point: the job stays pending and runs again; a half-written adapter or
                         staging directory is not referenced by the ledger and is shredded.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ulid import ULID

from ..config import Settings
from ..db import transaction
from ..db.driver import sqlite3
from ..erasure.exports import shred_tree
from ..models import Memory
from ..store import memories as mstore
from ..store import ledger as lstore
from ..store import shards as sstore

__all__ = ["ShardedModels", "shard_of", "RETRAIN_MARK", "ADAPTERS_MARK"]

log = logging.getLogger("memoryd.services.ledger")

RETRAIN_MARK = ".retrain-"  # <path>.retrain-<new version id>: the recomposed routed model awaiting promotion
ADAPTERS_MARK = ".shards"  # <path>.shards/<k>-<ulid>/: the adapters


def shard_of(memory_id: str, k: int) -> int:
    """The shard a memory belongs to: stable, uniform, independent of the other memories."""
    return int.from_bytes(hashlib.sha256(memory_id.encode("utf-8")).digest()[:8], "big") % k


class ShardedModels:
    def __init__(self, conn: sqlite3.Connection, *, lock: threading.RLock, settings: Settings,
                 clock: Callable[[], float], device: str, promote: Callable[[], Any]):
        self.conn = conn
        self.lock = lock
        self.settings = settings
        self.clock = clock
        self.device = device
        self._promote = promote  # ledger.finish_pending
        self._run_lock = threading.Lock()
        self._running: set[str] = set()  # staging and adapter directories being written now (never swept)
        self.before_retrain: Callable[[str], None] | None = None  # test seam: called (model path) before training

    # ---- adaptation ------------------------------------------------------------------------
    def train(self, src: Path, dst: Path, mems: Sequence[Memory], k: int, cfg: Any,
              progress: Callable[[str, int, int], None] | None = None) -> tuple[dict[int, tuple[Path, Any]], set[str]]:
        """Train the K adapters and write the routed model to `dst` (no lock, no SQL).
        Returns shard -> (adapter dir, ShardResult) and the ids the routed model reproduces."""
        from ..editing.shards import compose_routed, reproduced, train_adapter  # torch, lazily

        by_shard: dict[int, list[Memory]] = {i: [] for i in range(k)}
        for m in sorted(mems, key=lambda m: m.id):
            by_shard[shard_of(m.id, k)].append(m)
        adapters: dict[int, tuple[Path, Any]] = {}
        for i in range(k):
            d = _adapters_root(dst) / f"{i}-{ULID()}"
            adapters[i] = (d, train_adapter(src, i, [m.content for m in by_shard[i]], d, cfg))
            if progress:
                progress("shards", i + 1, k)
        compose_routed(src, [adapters[i][0] for i in range(k)], dst, device=cfg.device)
        ok = reproduced(dst, [m.content for m in mems], device=cfg.device)
        return adapters, {m.id for m, r in zip(mems, ok) if r}

    def record_shards(self, conn: sqlite3.Connection, dst: Path, src: Path, mems: Sequence[Memory], k: int,
                      cfg: Any, adapters: dict[int, tuple[Path, Any]]) -> None:
        """Inside the adapt transaction: the shard rows and which shard absorbed which memory."""
        now = self.clock()
        config = {key: v for key, v in asdict(cfg).items() if key != "device"}
        for i, (d, res) in adapters.items():
            sstore.upsert_shard(conn, sstore.ShardRow(str(dst), i, k, str(src), str(d), config, res.n_texts, now,
                                                      res.seconds))
        sstore.insert_members(conn, str(dst), [(m.id, shard_of(m.id, k)) for m in mems])

    # ---- erasure: inside the delete transaction --------------------------------------------
    def record(self, conn: sqlite3.Connection, memory_ids: Sequence[str]) -> int:
        """Drop the erased memories' shard rows; one retrain job per model that held any."""
        hit: dict[str, set[int]] = {}
        counts: dict[str, int] = {}
        for path, _mid, shard in sstore.members_of_memories(conn, memory_ids):
            hit.setdefault(path, set()).add(shard)
            counts[path] = counts.get(path, 0) + 1
        for path, shards in sorted(hit.items()):
            sstore.insert_retrain_job(conn, sstore.RetrainJobRow(str(ULID()), path, tuple(sorted(shards)),
                                                                 counts[path], None, self.clock(), "pending"))
        sstore.delete_members(conn, memory_ids)
        return len(hit)

    def pending(self) -> list[sstore.RetrainJobRow]:
        with self.lock:
            return sstore.list_retrain_jobs(self.conn, state="pending")

    # ---- the runner (after the STAMP jobs) -------------------------------------------------
    def run_pending(self) -> int:
        """Retrain every model with pending jobs whose STAMP edit is done; returns jobs closed."""
        n = 0
        with self._run_lock:
            for path in sorted({j.model_path for j in self.pending()}):
                n += self._run_model(path)
        return n

    def _run_model(self, path: str) -> int:
        from ..editing.adapt import AdaptConfig
        from ..editing.shards import compose_routed, train_adapter  # torch, lazily

        while True:
            self._promote()
            with self.lock:
                if _stamp_pending(self.conn, path):
                    return 0  # the STAMP edit goes first; this job runs after it
                jobs = sstore.list_retrain_jobs(self.conn, state="pending", model_path=path)
                shards = {s.shard: s for s in sstore.shards_of(self.conn, path)}
                members = sstore.members(self.conn, path)
                todo = sorted({i for j in jobs for i in j.shards})
                texts = {i: [m.content for mid, s in members.items() if s == i
                             and (m := mstore.get_by_id(self.conn, mid)) is not None] for i in todo}
            if not jobs:
                return 0
            if self.before_retrain is not None:
                self.before_retrain(path)
            t0 = time.perf_counter()
            new_id = str(ULID())
            staging = Path(f"{path}{RETRAIN_MARK}{new_id}")
            fresh: dict[int, tuple[Path, Any]] = {}
            # the staging directory and the new adapters are never swept until the ledger refers to them
            running = {str(staging)}
            self._running.add(str(staging))
            try:
                for i in todo:
                    s = shards[i]
                    cfg = AdaptConfig(**{**_config(s.config), "device": self.device})
                    d = _adapters_root(Path(path)) / f"{i}-{ULID()}"
                    running.add(str(d))
                    self._running.add(str(d))
                    fresh[i] = (d, train_adapter(Path(s.base), i, texts[i], d, cfg))
                adapters = [fresh[i][0] if i in fresh else Path(s.adapter_path) for i, s in sorted(shards.items())]
                any_base = next(iter(shards.values())).base
                compose_routed(Path(any_base), adapters, staging, device=self.device)
            except Exception:
                for d, _ in fresh.values():
                    shred_tree(d)
                shred_tree(staging)
                self._running.difference_update(running)
                raise
            seconds = time.perf_counter() - t0
            try:
                with self.lock:
                    with transaction(self.conn):
                        now_jobs = sstore.list_retrain_jobs(self.conn, state="pending", model_path=path)
                        ok = {j.id for j in now_jobs} == {j.id for j in jobs} and not _stamp_pending(self.conn, path)
                        if ok:
                            self._close(path, jobs, shards, fresh, staging, new_id, seconds)
            finally:
                self._running.difference_update(running)
            if not ok:  # another erasure arrived meanwhile: its memories must go too; redo
                for d, _ in fresh.values():
                    shred_tree(d)
                shred_tree(staging)
                continue
            for i in fresh:
                shred_tree(Path(shards[i].adapter_path))  # the adapters that held erased memories
            self._promote()  # staging -> path; the STAMP-edited weights shredded
            return len(jobs)

    def _close(self, path: str, jobs: list[sstore.RetrainJobRow], shards: dict[int, sstore.ShardRow],
               fresh: dict[int, tuple[Path, Any]], staging: Path, new_id: str, seconds: float) -> None:
        now = self.clock()
        versions = [v for v in lstore.list_versions(self.conn) if v.path == path]
        parent = next((v for v in reversed(versions) if v.status == "active"), versions[-1] if versions else None)
        report = {"outcome": "retrained", "new_version": new_id, "shards": sorted(fresh), "k": len(shards),
                  "seconds": round(seconds, 3),
                  "shard_seconds": {str(i): round(r.seconds, 3) for i, (_, r) in sorted(fresh.items())},
                  "shards_untouched": sorted(set(shards) - set(fresh))}
        lstore.insert_version(self.conn, lstore.VersionRow(
            id=new_id, name=parent.name if parent else Path(path).name, path=path,
            base=next(iter(shards.values())).base, parent_id=parent.id if parent else None, created_at=now,
            status="active", method="shard-retrain", metrics={"retrain": report}, staging_path=str(staging)))
        if parent is not None:
            lstore.insert_absorbed(self.conn, [replace(r, version_id=new_id)
                                               for r in lstore.absorbed(self.conn, parent.id)])
            if parent.status == "active":
                lstore.set_status(self.conn, parent.id, "superseded")  # promotion deletes its weights
        for i, (d, res) in fresh.items():
            s = shards[i]
            sstore.upsert_shard(self.conn, replace(s, adapter_path=str(d), n_memories=res.n_texts, trained_at=now,
                                                   seconds=res.seconds))
        for j in jobs:
            sstore.finish_retrain_job(self.conn, j.id, report, now)

    # ---- the receipt and the ledger views --------------------------------------------------
    def notes(self, conn: sqlite3.Connection, request_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [{"model": Path(j.model_path).name, "shards": list(j.shards), "memories": j.n_memories,
                     "state": j.state, **({k: j.report[k] for k in ("outcome", "new_version", "k", "seconds",
                                                                    "shard_seconds", "shards_untouched")
                                           if k in j.report})}
                    for j in sstore.list_retrain_jobs(conn, request_id=request_id)]

    def describe(self, path: str) -> dict[str, Any]:
        with self.lock:
            shards = sstore.shards_of(self.conn, path)
            counts: dict[int, int] = {}
            for s in sstore.members(self.conn, path).values():
                counts[s] = counts.get(s, 0) + 1
            jobs = sstore.list_retrain_jobs(self.conn, model_path=path)
        if not shards:
            return {}
        return {"k": shards[0].k, "shards": [{**s.to_dict(), "members": counts.get(s.shard, 0)} for s in shards],
                "retrain_jobs": [j.to_dict() for j in jobs]}

    def running_staging(self) -> set[str]:
        return set(self._running)

    def orphan_adapters(self, conn: sqlite3.Connection) -> list[Path]:
        """Adapter directories of sharded models that no shard row refers to and no running
        retrain is writing: left by a crash between training and the ledger transaction (or a
        retrain whose old adapter's shredding was interrupted). Call under the lock."""
        out: list[Path] = []
        busy = set(self._running)
        for path in sstore.sharded_paths(conn):
            root = _adapters_root(Path(path))
            known = {s.adapter_path for s in sstore.shards_of(conn, path)}
            try:
                entries = sorted(root.iterdir())
            except OSError:
                continue
            out += [d for d in entries if str(d) not in known and str(d) not in busy]
        return out

    def adapter_dirs(self) -> list[Path]:
        """Every adapter directory of every sharded model (the forensic scan reads them)."""
        with self.lock:
            paths = sstore.sharded_paths(self.conn)
        return [d for p in paths if (root := _adapters_root(Path(p))).is_dir() for d in root.iterdir()]


def _adapters_root(model_dir: Path) -> Path:
    return Path(f"{model_dir}{ADAPTERS_MARK}")


def _stamp_pending(conn: sqlite3.Connection, path: str) -> bool:
    at = {v.id for v in lstore.list_versions(conn) if v.path == path}
    return any(j.version_id in at for j in lstore.list_jobs(conn, state="pending"))


def _config(d: dict[str, Any]) -> dict[str, Any]:
    out = dict(d)
    if isinstance(out.get("lora_targets"), list):
        out["lora_targets"] = tuple(out["lora_targets"])
    return out
