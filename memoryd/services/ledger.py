"""Model ledger: local models adapted on memories, what each absorbed, and STAMP erasure edits.

    adapt(model, out, query=|namespace=)  fine-tune a local causal LM on selected memories and
                                          record the new version and the memories it absorbed
    list() / show(id)                     the ledger
    erase_derived / after_erasure         the erasure hook (name "ledger"), see below

Erasure (docs/erasure.md, "Model edits"). STAMP needs the erased text to build its forget
prompts, and it must not run inside the delete transaction (it holds App.lock and the write
lock for as long as the edit takes). So the work is split at the commit:

  inside the delete transaction (`erase_derived`): every active version that absorbed an
      erased memory gets an edit job (services/model_jobs.py: the texts go to a job file
      under <home>/jobs/, never into SQLite) and is marked 'superseded', i.e. not loadable;
      the erased memories' ledger rows are deleted with the memories.
  after the commit (`after_erasure`, idempotent): the jobs are tied to the request and a
      background thread edits, verifies and promotes (rename, rename, shred) without the
      lock; the hook reports `pending` until then, so the erasure's receipt stays
      incomplete and is sealed once the edit is verified. An edit that does not verify (an
      erased fact still completes) is not kept: the model is withdrawn (its weights shredded).

torch/transformers are imported lazily (memoryd.editing), only when a model is adapted or edited.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..db.driver import sqlite3
from ..config import Settings
from ..db import transaction
from ..erasure.exports import fsync_dir, shred_tree
from ..errors import EditingError, NotFoundError, TrustError, ValidationError
from ..models import Memory
from ..store import memories as mstore
from ..store import ledger as lstore
from ..store import shards as sstore
from ..trust.chain import derive_key
from .model_jobs import MAX_HELDOUT, MAX_RETAIN, ROUTING_FILE, STAGING_MARK, EditJobs, has_weights
from .ledger_adapt import Adaptation
from .model_shards import RETRAIN_MARK, ShardedModels

__all__ = ["ModelLedgerService", "MAX_RETAIN", "MAX_HELDOUT"]

log = logging.getLogger(__name__)

MAC_BYTES = 16
TRASH_MARK = ".superseded-"  # <path>.superseded-<old version id>: old weights being deleted

TOKENIZER_FILES = frozenset({"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                             "merges.txt", "tokenizer.model", "added_tokens.json", "spiece.model", "vocab.txt"})

RECEIPT_FIGURES = ("erased", "reason", "forget_exact_before", "forget_exact_after", "forget_rouge_l_before",
                   "forget_rouge_l_after", "retain_rouge_l_before", "retain_rouge_l_after", "retain_ratio",
                   "perplexity_before", "perplexity_after", "n_probes", "layers", "solver", "edit_seconds",
                   "repair_rounds")  # the verification in the receipt; `models show` has every figure

Progress = Callable[[str, int, int], None]


class ModelLedgerService:
    name = "ledger"

    def __init__(self, conn: sqlite3.Connection, *, lock: threading.RLock, settings: Settings,
                 key: Callable[[], bytes], clock: Callable[[], float] = time.time, memories: Callable[[], Any],
                 stamp_config: Any = None, device: str = "cpu"):
        """`key`: App.master_key (the ledger's MACs use a sub-key of it); `memories`: () ->
        MemoryService; `stamp_config`: editing.StampConfig, None for the defaults."""
        self.conn = conn
        self.lock = lock
        self.settings = settings
        self.clock = clock
        self._memories = memories  # () -> MemoryService
        self.stamp_config = stamp_config
        self.device = device
        self._master_key = key
        self._k_ledger: bytes | None = None
        self.jobs = EditJobs(conn, lock=lock, settings=settings, clock=clock, device=device,
                             stamp_config=stamp_config, promote=self.finish_pending)
        # the exact path (model_shards.py): shard retrains run on the edit thread after STAMP
        self.exact = ShardedModels(conn, lock=lock, settings=settings, clock=clock, device=device,
                                   promote=self.finish_pending)
        self.jobs.also = self.exact.run_pending
        self.adaptation = Adaptation(conn, lock=lock, clock=clock, device=device, memories=memories,
                                     exact=self.exact, content_mac=self.content_mac, show=self.show)

    # ---- keyed content MACs ----------------------------------------------------------------
    def _key(self) -> bytes:
        if self._k_ledger is None:
            try:
                self._k_ledger = derive_key(self._master_key(), "model-ledger")
            except TrustError as exc:
                raise EditingError(f"cannot use the key file: {exc}") from exc
        return self._k_ledger

    def content_mac(self, memory_id: str, content: str) -> str:
        """HMAC(k_ledger, id || 0 || content): says whether a model saw exactly this content,
        without letting anyone who lacks the key confirm a guessed text from the ledger."""
        msg = memory_id.encode("utf-8") + b"\x00" + content.encode("utf-8")
        return hmac.new(self._key(), msg, hashlib.sha256).digest()[:MAC_BYTES].hex()

    # ---- adaptation (ledger_adapt.py) -------------------------------------------------------
    def select(self, *, query: str | None = None, namespace: str | None = None, limit: int = 100) -> list[Memory]:
        """Memories to adapt on: the top `limit` hits of `query` (in `namespace` if given), or
        every memory of `namespace`."""
        return self.adaptation.select(query=query, namespace=namespace, limit=limit)

    def adapt(self, model: Path, out: Path, *, query: str | None = None, namespace: str | None = None,
              limit: int = 100, name: str | None = None, config: Any = None, progress: Progress | None = None,
              shards: int = 0) -> dict[str, Any]:
        """Fine-tune the local model at `model` on the selected memories, save it to `out` and
        record the version and what it absorbed; `shards` K > 0: the exact path
        (ledger_adapt.Adaptation.adapt)."""
        return self.adaptation.adapt(model, out, query=query, namespace=namespace, limit=limit, name=name,
                                     config=config, progress=progress, shards=shards)

    # ---- the ledger ------------------------------------------------------------------------
    def list(self, *, status: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            versions = lstore.list_versions(self.conn, status=status)
            counts = lstore.absorbed_counts(self.conn)
        return [{**v.to_dict(), "absorbed": counts.get(v.id, 0)} for v in versions]

    def show(self, version_id: str) -> dict[str, Any]:
        with self.lock:
            v = lstore.get_version(self.conn, version_id)
            if v is None:
                raise NotFoundError(f"no model version {version_id!r}")
            rows = lstore.absorbed(self.conn, version_id)
            edits = lstore.edits_for_version(self.conn, version_id)
            jobs = lstore.list_jobs(self.conn, version_id=version_id)
            current = {r.memory_id: mstore.get_by_id(self.conn, r.memory_id) for r in rows}
        absorbed = []
        for r in rows:
            m = current[r.memory_id]
            state = "missing" if m is None else (
                "present" if hmac.compare_digest(self.content_mac(m.id, m.content), r.content_mac) else "changed")
            absorbed.append({"memory_id": r.memory_id, "reproduced": r.reproduced, "memory": state})
        editing = any(j.state == "pending" for j in jobs)
        sharded = self.exact.describe(v.path)
        return {**v.to_dict(), **({"sharding": sharded} if sharded else {}),
                "weights_present": Path(v.path).is_dir() and v.status != "weights_deleted",
                "routed": _routed_k(Path(v.path)),
                "loadable": v.status == "active" and not v.staging_path and not editing,
                "absorbed": absorbed, "edits": [e.to_dict() for e in edits], "edit_jobs": [j.to_dict() for j in jobs]}

    def guard_forget(self, memory_ids: Sequence[str]) -> None:
        """A plain delete would leave these memories inside the local models that absorbed
        them: refuse, and point to `erase`, which edits those models too."""
        with self.lock:
            absorbing = lstore.versions_absorbing(self.conn, list(memory_ids))
        if absorbing:
            ids = sorted({m for ms in absorbing.values() for m in ms})
            raise ValidationError(
                f"{', '.join(ids)} absorbed by local model version(s) {', '.join(sorted(absorbing))}: "
                "forgetting would leave it in the model's weights; erase it instead "
                "(`memoryd erase --id ID`, or the MCP erase tool), which edits the model too")

    # ---- erasure hook: inside the delete transaction ---------------------------------------
    def erase_derived(self, conn: sqlite3.Connection, memories: Sequence[Memory]) -> Mapping[str, int]:
        """Record an edit job for every model version that absorbed an erased memory (the
        version is not loadable until its edit is promoted) and drop the erased memories from
        the ledger. Runs in the erasure's delete transaction; STAMP itself runs after the
        commit, outside the lock (services/model_jobs.py)."""
        if not memories:
            return {}
        erased = {m.id: m for m in memories}
        hit = lstore.versions_absorbing(conn, list(erased))
        if not hit:
            return {}
        self._sweep_orphans(conn)
        editing = {j.version_id for j in lstore.list_jobs(conn, state="pending")}
        counts = {"edit_jobs": 0}
        for vid, mids in sorted(hit.items()):
            v = lstore.get_version(conn, vid)
            if v is None or not (v.status == "active" or vid in editing):
                continue  # superseded (withdrawn) weights are deleted after the commit anyway
            self.jobs.record(conn, v, [erased[i] for i in mids])
            counts["edit_jobs"] += 1
        counts["retrain_jobs"] = self.exact.record(conn, list(erased))  # sharded models: the exact path
        counts["absorbed_rows"] = lstore.delete_absorbed(conn, list(erased))
        return counts

    def _sweep_orphans(self, conn: sqlite3.Connection) -> int:
        """Staging directories no version points to (an edit interrupted by a crash: edited
        weights nothing refers to), adapter directories no shard row points to, and job files
        no pending job points to (a rolled-back delete transaction's: they hold erased text)."""
        versions = lstore.list_versions(conn)
        staged = ({v.staging_path for v in versions if v.staging_path} | self.jobs.running_staging()
                  | self.exact.running_staging())
        n = self.jobs.sweep(conn)
        for p in {Path(v.path) for v in versions}:
            for q in _siblings(p, STAGING_MARK) + _siblings(p, RETRAIN_MARK):
                if str(q) not in staged:
                    shred_tree(q)
                    n += 1
        for d in self.exact.orphan_adapters(conn):  # adapters a crash left unrecorded
            shred_tree(d)
            n += 1
        return n

    # ---- erasure hook: after the commit ----------------------------------------------------
    def after_erasure(self, conn: sqlite3.Connection, request_id: str) -> Mapping[str, Any]:
        """Tie the edit jobs to the receipt, start them (background thread, no lock held
        during STAMP), promote finished edits, delete superseded weights. `pending` in the
        notes keeps the receipt incomplete until every edit of this request is verified and
        promoted. Idempotent (rerun when a crashed erasure resumes). No memory text or id."""
        with self.lock:
            with transaction(conn):
                lstore.assign_edits(conn, request_id)
                lstore.assign_jobs(conn, request_id)
                sstore.assign_retrain_jobs(conn, request_id)
            jobs = lstore.list_jobs(conn, request_id=request_id)
        retrains = self.exact.notes(conn, request_id)
        open_jobs = [j for j in jobs if j.state == "pending"]
        open_retrains = [r for r in retrains if r["state"] == "pending"]
        if open_jobs or open_retrains:
            self.jobs.start()
        promoted, deleted, remaining = self.finish_pending(conn)
        with self.lock:  # promoted / deleted by this request's edits, whichever thread did it
            edits = lstore.edits_for_request(conn, request_id)
            new = [lstore.get_version(conn, e.new_version) for e in edits if e.new_version]
            old = {e.old_version: lstore.get_version(conn, e.old_version) for e in edits}
        if not edits and not jobs and not retrains and not (promoted or deleted):
            return {}
        promoted = max(promoted, sum(1 for v in new if v is not None and not v.staging_path))
        deleted = max(deleted, sum(1 for v in old.values() if v is not None and v.status == "weights_deleted"))
        notes: dict[str, Any] = {
            "edit_jobs": len(jobs),
            "models_edited": sum(e.outcome == "edited" for e in edits),
            "models_withdrawn": sum(e.outcome != "edited" for e in edits),
            "versions_promoted": promoted,
            "weights_deleted": deleted,
            "old_weight_files_remaining": remaining,
            "job_files": "shredded" if not open_jobs else "held until the edit is verified",
            "edits": [{"old_version": e.old_version, "new_version": e.new_version, "outcome": e.outcome,
                       "memories": e.n_erased, "verification": {k: e.report[k] for k in RECEIPT_FIGURES if k in e.report}}
                      for e in edits],
        }
        if retrains:  # the exact path: the shards retrained without the erased memories
            notes["shard_retrains"] = retrains
        if open_jobs:
            notes["pending"] = f"{len(open_jobs)} model edit(s) not yet verified"
        elif open_retrains:
            notes["pending"] = f"{len(open_retrains)} shard retrain(s) not yet done"
        return notes

    def wait_for_edits(self, timeout: float | None = None) -> bool:
        """Wait for the background edits of this process; True when none is running."""
        return self.jobs.wait(timeout)

    def resume(self) -> dict[str, Any]:
        """Run the edit jobs a crash (or a stopped process) left pending, here and now, and
        promote what is staged. Returns counts; the erasures waiting on them are for the
        caller (the App) to finish."""
        self.jobs.wait()
        n = self.jobs.run_pending()
        n += self.exact.run_pending()
        promoted, deleted, remaining = self.finish_pending()
        return {"jobs_done": n, "jobs_pending": len(self.jobs.pending()) + len(self.exact.pending()),
                "versions_promoted": promoted,
                "weights_deleted": deleted, "old_weight_files_remaining": remaining}

    def resolve(self, target: str) -> Path:
        """The weights a user means by `target`: a version id, a model name (its newest active
        version) or a directory. Refused (EditingError) when the ledger holds that model (or the
        directory lies inside one of its models, e.g. a routed model's shard) but it is not
        loadable now (an erasure's edit pending, withdrawn, deleted); a directory the ledger does
        not know is used as it is."""
        p = Path(target).expanduser().resolve()
        with self.lock:
            v = lstore.get_version(self.conn, target)
            named = lstore.list_versions(self.conn, name=target)
            versions = lstore.list_versions(self.conn)
            owner = next((Path(x.path) for x in versions if Path(x.path) == p or Path(x.path) in p.parents), None)
            at_owner = lstore.active_at_path(self.conn, str(owner)) if owner is not None else None
        if v is None and named:  # the newest active one; else the newest says why it is not loadable
            v = next((x for x in reversed(named) if x.status == "active"), named[-1])
        if v is not None:
            return self.loadable_path(v.id)
        if owner is not None:
            if at_owner is None:
                states = sorted({x.status for x in versions if Path(x.path) == owner})
                raise EditingError(f"the model at {owner} is not loadable (its ledger versions are {', '.join(states)})")
            self.loadable_path(at_owner.id)  # refused while an erasure's edit of it is pending
        if not has_weights(p):
            raise NotFoundError(f"no model version, model name or local model directory {target!r}")
        return p

    def complete(self, target: str, prompt: str, *, max_tokens: int = 32) -> dict[str, Any]:
        """The greedy continuation of `prompt` by the model `target` names (resolve); a routed
        model (the exact path) answers with the shard the prompt routes to, named in the result."""
        if max_tokens < 1 or max_tokens > 4096:
            raise ValidationError("--max-tokens must be between 1 and 4096")
        path = self.resolve(target)
        from ..editing.query import complete  # torch, lazily

        return {"model": str(path), **complete(path, prompt, max_tokens=max_tokens, device=self.device).to_dict()}

    def loadable_path(self, version_id: str) -> Path:
        """Where to load a version's weights from; refused while an erasure's edit of it is
        pending (the weights still hold erased memories) or once it is superseded/deleted."""
        with self.lock:
            v = lstore.get_version(self.conn, version_id)
            jobs = lstore.list_jobs(self.conn, state="pending", version_id=version_id)
        if v is None:
            raise NotFoundError(f"no model version {version_id!r}")
        if jobs:
            raise EditingError(f"model version {version_id} is being edited to remove erased memories "
                               f"({len(jobs)} job(s)); it is not loadable until the edit is promoted")
        if v.status != "active" or v.staging_path:
            raise EditingError(f"model version {version_id} is {v.status if v.status != 'active' else 'staged'}: "
                               "not loadable")
        return Path(v.path)

    def close(self) -> None:
        self.jobs.close()

    def finish_pending(self, conn: sqlite3.Connection | None = None) -> tuple[int, int, int]:
        """(versions promoted, versions whose weights were deleted, old weight files left).
        Safe to call at any time and again after a crash at any point."""
        conn = conn or self.conn
        promoted = deleted = 0
        with self.lock:
            for s in lstore.staged_versions(conn):
                path, staging = Path(s.path), Path(s.staging_path or "")
                trash = Path(f"{s.path}{TRASH_MARK}{s.parent_id}")
                if staging.is_dir():
                    if path.exists():
                        shred_tree(trash)
                        os.replace(path, trash)
                    os.replace(staging, path)
                    fsync_dir(path.parent)
                elif not path.is_dir():
                    log.error("model version %s: staged weights lost before promotion", s.id)
                shred_tree(trash)
                with transaction(conn):
                    lstore.set_staging(conn, s.id, None)
                    p = lstore.get_version(conn, s.parent_id) if s.parent_id else None
                    if p is not None and p.status == "superseded":
                        lstore.set_status(conn, p.id, "weights_deleted")
                        deleted += 1
                promoted += 1
            active_paths = {v.path for v in lstore.list_versions(conn, status="active")}
            editing = {j.version_id for j in lstore.list_jobs(conn, state="pending")}
            for v in lstore.list_versions(conn, status="superseded"):  # withdrawn models
                if v.id in editing:
                    continue  # not loadable, but its weights are the input of a pending edit
                if v.path not in active_paths:
                    shred_tree(v.path)
                with transaction(conn):
                    lstore.set_status(conn, v.id, "weights_deleted")
                deleted += 1
            remaining = 0  # files still on disk that belong to deleted versions
            for v in lstore.list_versions(conn, status="weights_deleted"):
                places = _siblings(Path(v.path), TRASH_MARK) + ([Path(v.path)] if v.path not in active_paths else [])
                for q in places:
                    remaining += sum(1 for f in q.rglob("*") if f.is_file()) if q.is_dir() else int(q.exists())
        return promoted, deleted, remaining

    def forensic_paths(self) -> list[Path]:
        """Every file of every model directory this ledger knows of, and the edit jobs' files
        (the forensic scan reads them), except the tokenizer's: memoryd copies those unchanged from the base model, and
        a vocabulary legitimately holds common words and names that an erased memory used."""
        with self.lock:
            versions = lstore.list_versions(self.conn)
        dirs: list[Path] = []
        for v in versions:
            p = Path(v.path)
            dirs += [p, *([Path(v.staging_path)] if v.staging_path else []), *_siblings(p, STAGING_MARK),
                     *_siblings(p, TRASH_MARK), *_siblings(p, RETRAIN_MARK)]
        dirs += self.exact.adapter_dirs()
        out = {f for d in dirs if d.is_dir() for f in d.rglob("*") if f.is_file() and f.name not in TOKENIZER_FILES}
        return sorted(out | set(self.jobs.files()))  # job files hold erased text until shredded


def _routed_k(p: Path) -> int | None:
    """K when the weights at `p` are a routed model (editing/routing.py), else None."""
    try:
        return int(json.loads((p / ROUTING_FILE).read_text(encoding="utf-8"))["k"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _siblings(p: Path, mark: str) -> list[Path]:
    try:
        return sorted(q for q in p.parent.iterdir() if q.name.startswith(p.name + mark))
    except OSError:
        return []
