"""GDPR erasure (Art. 17): plan (dry run), execute, resume, receipts, verification.

    plan(request)                         -> ErasurePlan       what would go, and why
    execute(plan | request, confirm=True) -> ErasureReceipt    erase, clean up, verify, seal
    resume_pending()                      -> [ErasureReceipt]  finish interrupted requests
    receipts() / receipt(id) / verify(id)                      the audit log
    register_export / write_export / subject_export / epoch  exports with memory content,
                                          rewritten by step 4 (services/erasure/exports.py)

Execution, in order (each named step calls `on_step(name)`, the test seam for crashes):

 1. record the request as 'pending' (keyed salted hashes of the ids only)  pending.recorded
 2. ONE transaction: listeners' before_delete, hooks' erase_derived, delete the rows (FTS
    'delete' via trigger, vectors/tags/feedback cascade), mark the request 'deleted'
                                                  delete.before_commit / delete.committed
 3. drop the rows from the in-RAM indexes (vectors are zeroed, words leave the BM25 vocab)
 4. on a separate maintenance connection, without holding App.lock (searches go on;
    services/erasure/cleanup.py):
    FTS5 'optimize' (or secure-delete on SQLite >= 3.42)             fts.optimized
    rewrite registered export files                                  exports.rewritten
    VACUUM by policy                                                 vacuumed
    WAL checkpoint(TRUNCATE)                                         wal.truncated
 5. forensic verification (raw bytes, fts5vocab, FTS integrity-check)    verified
 6. ONE transaction: append the receipt to the audit chain, drop the pending row
                                                                     receipt.written

A crash before 2 commits leaves the request pending and nothing deleted; after, the rows
are gone for good. Either way the next open (App) or rerun resumes it: steps 2-6 are
idempotent. The erased text is in RAM only, for the duration of the request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ulid import ULID

from ...db import driver as sqldriver
from ...db.driver import sqlite3
from ...config import Settings
from ...db import connect, transaction
from ...erasure.hooks import ErasureHook, call_optional
from ...erasure.models import ErasurePlan, ErasureReceipt, ErasureRequest, ReceiptVerification
from ...erasure.receipts import RECEIPT_FORMAT, ids_key, keyed_hash, new_salt
from ...erasure.subject import parse_subject
from ...errors import ErasureError, StoreError, TrustError, ValidationError
from ...models import Memory
from ...store import erasure as estore
from ...store import memories as mstore
from ..authority import OPERATOR, Caller
from .audit import ErasureAuditLog
from .bounds import bound_plan, receipt_view
from .cleanup import ErasureCleanup
from .deletion import ErasureDeletion, Redactions
from .exports import ErasureExports
from .planner import ErasurePlanner
from .retry import RETRY_DELAYS_S, ErasureRetries
from .stash import Stash
from .verifier import ErasureVerifier

__all__ = ["ErasureService", "STEPS", "VACUUM_POLICIES", "RETRY_DELAYS_S"]

log = logging.getLogger(__name__)

STEPS = ("pending.recorded", "delete.before_commit", "delete.committed", "hooks.done", "fts.optimized",
         "exports.rewritten", "vacuumed", "wal.truncated", "verified", "receipt.written")
VACUUM_POLICIES = ("auto", "always", "never")


class ErasureService:
    """Plans and executes erasures. Collaborators, each with its own state: the dry run
    against the store (`planner`), the in-transaction delete (`deletion`), the byte-level
    cleanup (`cleanup`), the forensic checks (`verifier`), the audit log (`audit`), the
    retries of incomplete requests (`retries`) and the registered files (`exports`)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        lock: threading.RLock,
        settings: Settings,
        key: Callable[[], bytes],  # App.master_key
        memories: Callable[[], Any],
        clock: Callable[[], float] = time.time,
    ):
        self.conn = conn
        self.lock = lock
        self.settings = settings
        self._memories = memories  # () -> MemoryService (its listeners and RAM indexes)
        self.clock = clock
        self.hooks: list[ErasureHook] = []
        self.on_step: Callable[[str], None] | None = None  # test seam: called at each STEP
        self._master_key = key
        self._active: set[str] = set()  # requests being completed by this process
        self._released = threading.Condition(lock)  # notified when a thread lets go of a request
        self.planner = ErasurePlanner(conn, lock=lock, memories=memories, clock=lambda: self.clock())
        self.deletion = ErasureDeletion(conn, memories=memories, hooks=self.hooks)
        self.verifier = ErasureVerifier(settings, self.hooks)
        self.exports = ErasureExports(conn, lock=lock, clock=clock, plan=self.plan)
        self.audit = ErasureAuditLog(conn, lock=lock, verifier=self.verifier, clock=lambda: self.clock(),
                                     key=self._key)
        self.retries = ErasureRetries(conn, lock=lock, resume=self.resume_pending, has_pending=self.has_pending)
        self.cleanup = ErasureCleanup(conn, lock=lock, settings=settings, exports=self.exports, step=self._step)

    # ---- set-up ----------------------------------------------------------------------------
    def register_hook(self, hook: ErasureHook) -> None:
        if not getattr(hook, "name", None) or not callable(getattr(hook, "erase_derived", None)):
            raise ValidationError("an erasure hook needs a name and erase_derived(conn, memories)")
        self.hooks.append(hook)

    def _key(self) -> bytes:
        try:
            return self._master_key()
        except TrustError as exc:
            raise ErasureError(f"cannot use the key file: {exc}") from exc

    def _step(self, name: str) -> None:
        if self.on_step is not None:
            self.on_step(name)

    # ---- dry run ---------------------------------------------------------------------------
    def plan(self, request: ErasureRequest, *, caller: Caller = OPERATOR) -> ErasurePlan:
        """What `execute` would erase and why, plus the near misses it would keep; for an
        agent, only what it may erase (services/erasure/bounds.py)."""
        return bound_plan(self.planner.plan(request), caller)

    # ---- execution -------------------------------------------------------------------------
    @staticmethod
    def receipt_view(receipt: ErasureReceipt, *, caller: Caller = OPERATOR) -> dict[str, Any]:
        """The receipt as `caller` may read it: an agent's leaves out the verification
        figures that count over the whole store (bounds.receipt_view, docs/security.md)."""
        return receipt_view(receipt, caller)

    def execute(
        self, target: ErasurePlan | ErasureRequest, *, confirm: bool = False, vacuum: str = "auto",
        caller: Caller = OPERATOR,
    ) -> ErasureReceipt:
        """Erase what the plan lists (a request is planned first), clean up, verify, seal a
        receipt. `confirm=True` is required: nothing is erased without it. An agent erases
        only within its bound, and at most `caller.max_destructive` memories."""
        if confirm is not True:
            raise ErasureError("refusing to erase without explicit confirmation: review the dry run, then confirm")
        if vacuum not in VACUUM_POLICIES:
            raise ValidationError(f"vacuum must be one of {', '.join(VACUUM_POLICIES)}")
        plan = bound_plan(target, caller) if isinstance(target, ErasurePlan) else self.plan(target, caller=caller)
        caller.check_size(len(plan.items), "erase")
        self.resume_pending()  # an interrupted request is finished (and sealed) first
        k_ids = ids_key(self._key())
        salt, rid = new_salt(), str(ULID())
        with self.lock:
            current = mstore.get_by_rowids(self.conn, [i.rowid for i in (*plan.items, *plan.redactions)])
            mems = [current[i.rowid] for i in plan.items
                    if i.rowid in current and current[i.rowid].id == i.memory_id]
            reds = [(current[i.rowid], i.fields) for i in plan.redactions
                    if i.rowid in current and current[i.rowid].id == i.memory_id and i.fields]
            hashed = sorted({keyed_hash(k_ids, salt, m.id) for m in mems})
            scope = self._scope(plan, k_ids, salt)
            options: dict[str, Any] = {"vacuum": vacuum}
            if reds:  # which memories and fields; the values themselves stay in RAM
                options["redact"] = sorted({keyed_hash(k_ids, salt, m.id) for m, _ in reds})
                options["redact_fields"] = sorted({f for _, fs in reds for f, _ in fs})
            with transaction(self.conn):
                estore.insert_request(self.conn, rid, self.clock(), salt, scope, hashed, options)
            req = estore.get_request(self.conn, rid)
            self._active.add(rid)
        assert req is not None
        try:
            self._step("pending.recorded")
            return self._complete(req, mems, resumed=False, redactions=reds)
        finally:
            self._release(rid)

    def _release(self, rid: str) -> None:
        with self._released:
            self._active.discard(rid)
            self._released.notify_all()

    def has_pending(self) -> bool:
        with self.lock:
            return estore.has_pending(self.conn)

    def resume_pending(self, *, wait: bool = False, settled_s: float | None = None) -> list[ErasureReceipt]:
        """Finish every request an earlier process left half-way (crash, kill, power loss) or
        that waited for a hook (a model edit). A request another thread of this process is
        completing is skipped, or with `wait=True` (what a hook that just finished its work
        calls) done after that thread lets go of it. `settled_s` (the sweep of a long-running
        process, services/erasure/sweeper.py): only requests whose own run already gave up
        once (attempts >= 1) or recorded more than `settled_s` seconds ago, so that an erasure
        another process is executing right now is left to it."""
        with self.lock:
            pending = estore.pending_requests(self.conn)
        if settled_s is not None:
            cutoff = self.clock() - settled_s
            pending = [r for r in pending if int(r.options.get("attempts", 0)) >= 1 or r.created_at <= cutoff]
        out = []
        for req in pending:
            with self._released:
                while req.id in self._active and wait:
                    self._released.wait(1.0)
                if req.id in self._active:
                    continue
                cur = estore.get_request(self.conn, req.id)
                if cur is None:  # sealed meanwhile
                    continue
                self._active.add(req.id)
            try:
                log.info("resuming erasure %s (state %s)", cur.id, cur.state)
                out.append(self._complete(cur, None, resumed=True))
            finally:
                self._release(req.id)
        return out

    def _complete(self, req: estore.PendingRequest, mems: list[Memory] | None, *, resumed: bool,
                  redactions: Redactions | None = None) -> ErasureReceipt:
        t_start = time.perf_counter()
        timings: dict[str, float] = {}
        k_ids = ids_key(self._key())
        hashed = set(req.hashed_ids)

        def is_erased(mem_id: str) -> bool:
            return keyed_hash(k_ids, req.salt, mem_id) in hashed

        counts = dict(req.counts)
        vocab: dict[str, Any] | None = None
        derived: list[str] = []
        fields: list[str] = []  # metadata values that leave with the rows (RAM only)
        if req.state == "pending":
            t = time.perf_counter()
            with self.lock:
                with transaction(self.conn):
                    cur = estore.get_request(self.conn, req.id)
                    if cur is None:  # another process finished it meanwhile
                        return self.receipt(req.id)
                    if cur.state == "pending":
                        mems = self.deletion.still_present(mems, is_erased)
                        derived = self.deletion.derived_tokens(mems)
                        vocab = self.deletion.vocab_before(mems)
                        fields = self.deletion.metadata_values(mems)
                        counts = self.deletion.delete(mems)
                        counts.update(self.deletion.redact(req, redactions, fields))
                        self._step("delete.before_commit")
                        estore.mark_deleted(self.conn, req.id, counts)
                    else:
                        counts = dict(cur.counts)
                if mems:
                    evict = getattr(self._memories(), "evict", None)
                    if evict is not None:
                        evict([m.rowid for m in mems])
            timings["delete_ms"] = _ms(t)
            self._step("delete.committed")
        if mems is not None:
            stash = Stash([m.content for m in mems], [m.id for m in mems], derived, fields, vocab)
        else:  # resumed: the text is in RAM only if this process did the delete and is retrying
            stash = self.retries.stash(req.id) or Stash(None, None, derived, fields, vocab)
        mems = None  # the rows are gone; keep only what the scan needs
        cleanup: dict[str, Any] = {}
        verification: dict[str, Any] = {"ok": False}
        hooks_notes: dict[str, Any] = {}
        error = None
        waiting: list[str] = []  # hooks whose work goes on after the commit (a model edit)
        mc = None
        try:
            # derived stores finish first (e.g. the model ledger promotes edited weights and
            # deletes the old ones), so that the cleanup and the forensic scan cover what they left
            with self.lock:
                for h in self.hooks:
                    notes = call_optional(h, "after_erasure", self.conn, req.id, default=None)
                    if notes:
                        hooks_notes[h.name] = dict(notes)
            self._step("hooks.done")
            waiting = [f"{name}: {n['pending']}" for name, n in hooks_notes.items() if n.get("pending")]
            if waiting:  # e.g. a model edit running outside the lock: the receipt waits for it
                error = "waiting for " + "; ".join(waiting)
            if not (waiting and resumed):  # the first run cleans the database up at once anyway
                with self.lock:
                    export_entries = estore.registered_exports(self.conn)
                mc = connect(self.settings.db_path, busy_timeout_ms=self.settings.busy_timeout_ms)
                needles = None
                if stash.texts is not None:
                    needles = self.verifier.needles_for(mc, stash.texts, stash.ids or [], stash.derived, stash.fields)
                cleanup = self.cleanup.run(mc, req, export_entries, is_erased, needles, counts, timings)
                t = time.perf_counter()
                files = self.verifier.owned_files(estore.registered_exports(mc) or export_entries)
                verification = self.verifier.verify(mc, files, is_erased, needles, stash.ids, stash.vocab, timings)
                timings["verify_ms"] = _ms(t)
        except (StoreError, OSError, *sqldriver.OperationalError) as exc:  # locked, busy, disk: retry
            error = f"{type(exc).__name__}: {exc}"
            log.warning("erasure %s: cleanup failed after the delete committed (%s); kept pending", req.id, error)
        finally:
            if mc is not None:
                mc.close()
        self._step("verified")
        timings["total_ms"] = _ms(t_start)
        body = {
            "format": RECEIPT_FORMAT,
            "id": req.id,
            "legal_basis": "GDPR Art. 17",
            "ground": req.scope.get("ground"),
            "requested_at": req.created_at,
            "completed_at": self.clock(),
            "resumed": resumed,
            "scope": req.scope,
            "salt": req.salt,
            "hash": "HMAC-SHA256(k_ids, salt || value), first 16 bytes, hex",
            "erased_ids": sorted(hashed),
            "counts": counts,
            "cleanup": cleanup,
            "verification": verification,
            "hooks": hooks_notes,
            "timings_ms": timings,
        }
        permanent = counts.get("redactions_not_applied", 0) > 0  # a retry cannot bring the values back
        if waiting or (not permanent and (error or not cleanup.get("wal_truncated") or not verification.get("ok"))):
            return self.retries.keep_pending(req, stash, body, error)
        body["status"] = "verified" if verification.get("ok") and not permanent else "failed"
        self.retries.drop(req.id)
        receipt = self.audit.seal(req.id, body)
        self._step("receipt.written")
        return receipt

    def _scope(self, plan: ErasurePlan, k_ids: bytes, salt: str) -> dict[str, Any]:
        r = plan.request
        h = lambda v: keyed_hash(k_ids, salt, v)  # noqa: E731
        sels = [{"type": "subject", "kind": m.kind, "hash": h(m.normalized())}
                for m in (parse_subject(s) for s in r.subjects)]
        sels += [{"type": "memory_id", "hash": h(i)} for i in r.memory_ids]
        sels += [{"type": "agent", "hash": h("agent:" + a)} for a in r.agents]
        sels += [{"type": "namespace", "hash": h("namespace:" + n)} for n in r.namespaces]
        return {"selectors": sels, "excluded": len(r.exclude_ids), "near_misses_listed": len(plan.near_misses),
                "planned": len(plan.items), "ground": r.ground}

    # ---- the audit log (services/erasure/audit.py) -----------------------------------------
    def receipts(self) -> list[dict[str, Any]]:
        """Sealed receipts, oldest first, then the requests still incomplete."""
        return self.audit.receipts()

    def receipt(self, receipt_id: str) -> ErasureReceipt:
        return self.audit.receipt(receipt_id)

    def verify(self, receipt_id: str, *, scan: bool = True, subject: str | None = None) -> ReceiptVerification:
        """Re-check a receipt: chain, MAC, sealed head, and (scan) a forensic re-scan."""
        return self.audit.verify(receipt_id, scan=scan, subject=subject)

    def close(self) -> None:
        """Stop retrying in this process (pending requests stay recorded; resumed on open)."""
        self.retries.close()

    # ---- exports (services/erasure/exports.py) ---------------------------------------------
    def epoch(self) -> int:
        """Changes whenever an erasure deletes something (ErasureExports.epoch)."""
        return self.exports.epoch()

    def register_export(self, path: Path, fmt: str = "jsonl") -> None:
        """Record a file before writing memory content to it (ErasureExports.register)."""
        self.exports.register(path, fmt)

    def write_export(self, path: Path, fmt: str, produce: Callable[[], Sequence[Any]],
                     render: Callable[[Sequence[Any]], str]) -> int:
        """Register `path`, then write `render(produce())` atomically (ErasureExports.write)."""
        return self.exports.write(path, fmt, produce, render)

    def track_file(self, path: Path, fmt: str, write: Callable[[], Any]) -> Any:
        """Register a file that `write()` writes itself (graph export, plot, model directory)
        so every erasure rewrites, shreds or reports it (ErasureExports.track)."""
        return self.exports.track(path, fmt, write)

    def subject_export(self, subjects: Sequence[str], out: Path | None = None) -> dict[str, Any]:
        """Art. 15 / Art. 20: every memory about the subject (ErasureExports.subject_export)."""
        return self.exports.subject_export(subjects, out)

    def scrub_files(self, memories: Sequence[Memory]) -> dict[str, int]:
        """After a delete that is not an erasure (`forget`, services/forget.py): rewrite every
        registered file without these memories, as step 4 of an erasure does (by id; parts
        that do not parse, by their text), and move the epoch so that an export being written
        meanwhile writes itself again. No receipt, no hooks. Returns the counts."""
        if not memories:
            return {}
        with self.lock:
            entries = estore.registered_exports(self.conn)
            if not entries:
                return {}
            with transaction(self.conn):
                estore.bump_epoch(self.conn)
            ids = {m.id for m in memories}
            needles = self.verifier.needles_for(self.conn, [m.content for m in memories], sorted(ids), [], [])
        try:
            return self.exports.rewrite(entries, ids.__contains__, needles)
        except OSError as exc:
            raise ErasureError(f"the memories were deleted, but a file memoryd wrote with them could not be "
                               f"rewritten ({exc}); erase them by id to finish: memoryd erase --id ... --yes") from exc


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)

