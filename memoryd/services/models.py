"""Model ledger: local models adapted on memories, what each absorbed, and STAMP erasure edits.

    adapt(model, out, query=|namespace=)  fine-tune a local causal LM on selected memories and
                                          record the new version and the memories it absorbed
    list() / show(id)                     the ledger
    erase_derived / after_erasure         the erasure hook (name "ledger"), see below

Erasure (docs/editing.md). STAMP needs the erased text to build its forget prompts, and the
text only exists until the delete transaction commits; the process may die at any point.
So the work is split at the commit:

  inside the delete transaction (`erase_derived`, text in RAM):
      every active version that absorbed an erased memory is edited with STAMP, verified
      (greedy extraction, ROUGE-L, retain recall, perplexity) and saved to a staging directory
      next to it; the new version (staging_path set), the old one's status 'superseded', the
      edit record and the removal of the erased memories' ledger rows are written in the SAME
      transaction as the deletion. A crash before the commit rolls all of it back (the orphan
      staging directory is swept by the next attempt); the rerun has the text again.
  after the commit (`after_erasure`, idempotent, rerun on resume):
      the staged weights replace the old ones at the model's path (rename, rename, delete) and
      the superseded weights are deleted; the ledger says 'weights_deleted'. An edit that did
      not verify (an erased fact still completes) is not kept: the model is withdrawn (its
      weights deleted) rather than left holding the data.

torch/transformers are imported lazily (memoryd.editing), only when a model is adapted or edited.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ulid import ULID

from ..db.driver import sqlite3
from ..config import Settings
from ..db import transaction
from ..erasure.exports import fsync_dir, shred_tree
from ..errors import EditingError, NotFoundError, TrustError, ValidationError
from ..models import Memory, SearchFilters
from ..store import erasure as estore
from ..store import memories as mstore
from ..store import models as lstore
from ..trust.chain import derive_key, load_or_create_key

__all__ = ["ModelLedgerService", "MAX_RETAIN", "MAX_HELDOUT"]

log = logging.getLogger(__name__)

MAX_RETAIN = 256  # retain memories read for STAMP's keys and the retain check (evenly subsampled)
MAX_HELDOUT = 32  # memories the model never saw, for the perplexity check
MAC_BYTES = 16
STAGING_MARK = ".stamp-"  # <path>.stamp-<new version id>: edited weights awaiting promotion
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

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        lock: threading.RLock,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        memories: Callable[[], Any],
        stamp_config: Any = None,  # editing.StampConfig; None: the defaults
        device: str = "cpu",
    ):
        self.conn = conn
        self.lock = lock
        self.settings = settings
        self.clock = clock
        self._memories = memories  # () -> MemoryService
        self.stamp_config = stamp_config
        self.device = device
        self._k_ledger: bytes | None = None

    # ---- keyed content MACs ----------------------------------------------------------------
    def _key(self) -> bytes:
        if self._k_ledger is None:
            try:
                self._k_ledger = derive_key(load_or_create_key(self.settings.key_path), "model-ledger")
            except TrustError as exc:
                raise EditingError(f"cannot use the key file: {exc}") from exc
        return self._k_ledger

    def content_mac(self, memory_id: str, content: str) -> str:
        """HMAC(k_ledger, id || 0 || content): says whether a model saw exactly this content,
        without letting anyone who lacks the key confirm a guessed text from the ledger."""
        msg = memory_id.encode("utf-8") + b"\x00" + content.encode("utf-8")
        return hmac.new(self._key(), msg, hashlib.sha256).digest()[:MAC_BYTES].hex()

    # ---- adaptation ------------------------------------------------------------------------
    def select(self, *, query: str | None = None, namespace: str | None = None, limit: int = 100) -> list[Memory]:
        """Memories to adapt on: the top `limit` hits of `query` (in `namespace` if given), or
        every memory of `namespace`."""
        if not query and not namespace:
            raise ValidationError("choose the memories to adapt on: a query or a namespace")
        if limit < 1:
            raise ValidationError("limit must be positive")
        svc = self._memories()
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
    ) -> dict[str, Any]:
        """Fine-tune the local model at `model` on the selected memories, save it to `out` and
        record the version and what it absorbed. Never downloads: `model` is a directory."""
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
        from ..editing import AdaptConfig, adapt_on_memories  # torch, lazily

        cfg = config or AdaptConfig(device=self.device)
        t0 = time.perf_counter()
        try:
            outcome = adapt_on_memories(src, dst, {m.id: m.content for m in mems}, cfg, progress)
        except Exception:
            shred_tree(dst)
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
                        method="adapt-lora" if getattr(cfg, "lora", False) else "adapt-full",
                        metrics={"memories": len(mems), "reproduced": len(reproduced), "epochs": outcome.epochs,
                                 "final_loss": round(outcome.final_loss, 5), "seconds": round(outcome.seconds, 2),
                                 "inherited": len(inherited)})
                    lstore.insert_version(self.conn, version)
                    rows = {r.memory_id: replace(r, version_id=vid) for r in inherited}
                    rows.update({m.id: lstore.AbsorbedRow(vid, m.id, self.content_mac(m.id, m.content),
                                                          m.id in reproduced) for m in mems})
                    lstore.insert_absorbed(self.conn, rows.values())
            except Exception:
                shred_tree(dst)  # a model holding erased data must not stay behind
                raise
        log.info("adapted %s on %d memories in %.1fs -> version %s", src, len(mems), time.perf_counter() - t0, vid)
        return {**self.show(vid), "adapt": outcome.to_dict()}

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
            current = {r.memory_id: mstore.get_by_id(self.conn, r.memory_id) for r in rows}
        absorbed = []
        for r in rows:
            m = current[r.memory_id]
            state = "missing" if m is None else (
                "present" if hmac.compare_digest(self.content_mac(m.id, m.content), r.content_mac) else "changed")
            absorbed.append({"memory_id": r.memory_id, "reproduced": r.reproduced, "memory": state})
        return {**v.to_dict(), "weights_present": Path(v.path).is_dir() and v.status != "weights_deleted",
                "absorbed": absorbed, "edits": [e.to_dict() for e in edits]}

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
        """Edit every active model that absorbed an erased memory (STAMP, staged), and drop the
        erased memories from the ledger. Runs in the erasure's delete transaction."""
        if not memories:
            return {}
        erased = {m.id: m for m in memories}
        hit = lstore.versions_absorbing(conn, list(erased))
        if not hit:
            return {}
        self._sweep_orphans(conn)
        counts = {"models_edited": 0, "models_withdrawn": 0}
        for vid, mids in sorted(hit.items()):
            v = lstore.get_version(conn, vid)
            if v is None or v.status != "active":
                continue  # superseded weights are deleted after the commit anyway
            outcome = self._edit_version(conn, v, [erased[i] for i in mids], set(erased))
            counts["models_edited" if outcome == "edited" else "models_withdrawn"] += 1
        counts["absorbed_rows"] = lstore.delete_absorbed(conn, list(erased))
        return counts

    def _edit_version(self, conn: sqlite3.Connection, v: lstore.VersionRow, forget: Sequence[Memory],
                      erased_ids: set[str]) -> str:
        now, new_id, edit_id = self.clock(), str(ULID()), str(ULID())
        src = Path(v.staging_path) if v.staging_path else Path(v.path)
        staging = Path(f"{v.path}{STAGING_MARK}{new_id}")
        if not (src / "config.json").is_file():
            lstore.set_status(conn, v.id, "weights_deleted")
            lstore.insert_edit(conn, lstore.EditRow(edit_id, v.id, None, None, now, len(forget), "missing",
                                                    {"reason": "weights not found at the recorded path"}))
            log.warning("model %s: weights missing at %s; marked weights_deleted", v.id, src)
            return "withdrawn"
        retain = self._retain_texts(conn, v.id, erased_ids)
        heldout = self._heldout_texts(conn, v.id, erased_ids)
        report, reason = self._stamp(src, staging, [m.content for m in forget], retain, heldout)
        lstore.set_status(conn, v.id, "superseded")
        if report is None or not report.erased:
            shred_tree(staging)  # unverified edits are not kept
            lstore.insert_edit(conn, lstore.EditRow(edit_id, v.id, None, None, now, len(forget), "withdrawn",
                                                    {"reason": reason, **(_figures(report) if report else {})}))
            log.warning("model %s: STAMP edit did not verify (%s); the model is withdrawn", v.id, reason)
            return "withdrawn"
        figures = _figures(report)
        lstore.insert_version(conn, lstore.VersionRow(
            id=new_id, name=v.name, path=v.path, base=v.base, parent_id=v.id, created_at=now, status="active",
            method="stamp", metrics={"erased": len(forget), "verification": figures}, staging_path=str(staging)))
        keep = [replace(r, version_id=new_id) for r in lstore.absorbed(conn, v.id) if r.memory_id not in erased_ids]
        lstore.insert_absorbed(conn, keep)
        lstore.insert_edit(conn, lstore.EditRow(edit_id, v.id, new_id, None, now, len(forget), "edited", figures))
        return "edited"

    def _stamp(self, src: Path, staging: Path, forget: list[str], retain: list[str], heldout: list[str]):
        """(ForgetReport | None, reason): the default edit, then a stronger one if a fact still
        completes; the edited weights are in `staging` when the report says erased."""
        from ..editing import StampConfig, forget_in_model  # torch, lazily

        base = self.stamp_config or StampConfig()
        stronger = replace(base, solver="full", n_layers=max(base.n_layers, 8), repair_rounds=base.repair_rounds + 3)
        report, reason = None, "not attempted"
        for cfg in (base, stronger):
            shred_tree(staging)
            try:
                report = forget_in_model(src, staging, forget, retain, cfg, heldout_texts=heldout or None,
                                         device=self.device)
            except Exception as exc:  # noqa: BLE001 - the memories are erased regardless; the model is withdrawn
                log.exception("STAMP edit failed")
                return None, f"edit failed: {type(exc).__name__}"
            if report.erased:
                return report, "erased"
            reason = f"an erased fact still completes (exact rate {report.forget_exact_after:.3f})"
        return report, reason

    def _retain_texts(self, conn: sqlite3.Connection, vid: str, erased_ids: set[str]) -> list[str]:
        ids = [r.memory_id for r in lstore.absorbed(conn, vid) if r.memory_id not in erased_ids]
        if len(ids) > MAX_RETAIN:
            step = len(ids) / MAX_RETAIN
            ids = [ids[int(i * step)] for i in range(MAX_RETAIN)]
        mems = (mstore.get_by_id(conn, i) for i in ids)
        return [m.content for m in mems if m is not None]

    def _heldout_texts(self, conn: sqlite3.Connection, vid: str, erased_ids: set[str]) -> list[str]:
        seen = {r.memory_id for r in lstore.absorbed(conn, vid)} | erased_ids
        out = []
        for m in mstore.list_memories(conn, SearchFilters(), MAX_HELDOUT + len(seen)):
            if m.id not in seen:
                out.append(m.content)
                if len(out) == MAX_HELDOUT:
                    break
        return out

    def _sweep_orphans(self, conn: sqlite3.Connection) -> int:
        """Staging directories no version points to: left by a delete transaction that was
        rolled back (crash). They hold edited weights; nothing refers to them."""
        versions = lstore.list_versions(conn)
        staged = {v.staging_path for v in versions if v.staging_path}
        n = 0
        for p in {Path(v.path) for v in versions}:
            for q in _siblings(p, STAGING_MARK):
                if str(q) not in staged:
                    shred_tree(q)
                    n += 1
        return n

    # ---- erasure hook: after the commit ----------------------------------------------------
    def after_erasure(self, conn: sqlite3.Connection, request_id: str) -> Mapping[str, Any]:
        """Promote the staged edits, delete superseded weights, tie the edits to the receipt.
        Idempotent (rerun when a crashed erasure resumes). No memory text or id in the notes."""
        with transaction(conn):
            lstore.assign_edits(conn, request_id)
            edits = lstore.edits_for_request(conn, request_id)
        promoted, deleted, remaining = self.finish_pending(conn)
        if not edits and not (promoted or deleted):
            return {}
        return {
            "models_edited": sum(e.outcome == "edited" for e in edits),
            "models_withdrawn": sum(e.outcome != "edited" for e in edits),
            "versions_promoted": promoted,
            "weights_deleted": deleted,
            "old_weight_files_remaining": remaining,
            "edits": [{"old_version": e.old_version, "new_version": e.new_version, "outcome": e.outcome,
                       "memories": e.n_erased, "verification": {k: e.report[k] for k in RECEIPT_FIGURES if k in e.report}}
                      for e in edits],
        }

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
            for v in lstore.list_versions(conn, status="superseded"):  # withdrawn models
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
        """Every file of every model directory this ledger knows of (the forensic scan reads
        them), except the tokenizer's: memoryd copies those unchanged from the base model, and
        a vocabulary legitimately holds common words and names that an erased memory used."""
        with self.lock:
            versions = lstore.list_versions(self.conn)
        dirs: list[Path] = []
        for v in versions:
            p = Path(v.path)
            dirs += [p, *([Path(v.staging_path)] if v.staging_path else []), *_siblings(p, STAGING_MARK),
                     *_siblings(p, TRASH_MARK)]
        out = {f for d in dirs if d.is_dir() for f in d.rglob("*") if f.is_file() and f.name not in TOKENIZER_FILES}
        return sorted(out)


def _figures(report: Any) -> dict[str, Any]:
    """The verification figures of a ForgetReport (no text, no paths)."""
    d = report.to_dict()
    d.pop("out_dir", None)
    d["layer_stats"] = [{k: (round(x, 5) if isinstance(x, float) else x) for k, x in s.items()}
                        for s in d.get("layer_stats", [])]
    return d


def _siblings(p: Path, mark: str) -> list[Path]:
    try:
        return sorted(q for q in p.parent.iterdir() if q.name.startswith(p.name + mark))
    except OSError:
        return []
