"""STAMP edits of erased memories as durable jobs, run outside the database write lock.

A collaborator of :class:`memoryd.services.ledger.ModelLedgerService` (which holds one as
`ledger.jobs`). The life of a job (docs/erasure.md, "Model edits"):

  inside the erasure's delete transaction (`record`, under App.lock):
      the texts STAMP needs (the erased memories' contents: its forget prompts and answers
      are derived from them) go to a job file <home>/jobs/edit-<job>.json (0600, fsync);
      the job row (version, count, file path; never text) is inserted and the version is
      marked 'superseded', i.e. not loadable. A crash before the commit leaves an orphan
      job file, shredded by the next sweep.
  after the commit (`start`): a background thread runs `run_pending`, per version:
      read the job files and the retain/held-out texts (briefly under the lock), run STAMP
      and verify WITHOUT the lock (recalls and token checks go on), then in one short
      transaction record the new version (staged), the edit rows and the jobs 'done';
      promote (ledger.finish_pending), shred the job files, and call `on_done` (the App
      finishes the erasures that were waiting for these edits: their receipts are sealed).
  a crash at any point: the job stays 'pending' and is run again at the next start
      (App) or by `memoryd models resume`; an edit that finished but was not recorded is an
      orphan staging directory, swept.

An erasure that hits a version whose edit is still pending adds a job to the same version;
if that arrives while the edit runs, the edit is discarded and redone with every job's texts.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ulid import ULID

from ..config import Settings
from ..db import transaction
from ..db.driver import sqlite3
from ..erasure.exports import shred, shred_tree, write_atomic
from ..models import Memory, SearchFilters
from ..store import memories as mstore
from ..store import ledger as lstore

__all__ = ["EditJobs", "STAGING_MARK", "JOB_DIR", "MAX_RETAIN", "MAX_HELDOUT", "figures", "has_weights",
           "ROUTING_FILE"]

log = logging.getLogger("memoryd.services.ledger")

MAX_RETAIN = 256  # retain memories read for STAMP's keys and the retain check (evenly subsampled)
MAX_HELDOUT = 32  # memories the model never saw, for the perplexity check
STAGING_MARK = ".stamp-"  # <path>.stamp-<new version id>: edited weights awaiting promotion
JOB_DIR = "jobs"  # under the home: job files with the texts STAMP needs, shredded when done
JOB_FORMAT = 1
ROUTING_FILE = "routing.json"  # a routed model's marker (editing/routing.py; torch-free copy here)


def has_weights(model_dir: Path | str) -> bool:
    """A plain checkpoint (config.json) or a routed model (routing.json + shard-<k>/) is there."""
    p = Path(model_dir)
    return (p / "config.json").is_file() or (p / ROUTING_FILE).is_file()


class EditJobs:
    def __init__(self, conn: sqlite3.Connection, *, lock: threading.RLock, settings: Settings,
                 clock: Callable[[], float], device: str, stamp_config: Any,
                 promote: Callable[[], Any]):
        self.conn = conn
        self.lock = lock
        self.settings = settings
        self.clock = clock
        self.device = device
        self.stamp_config = stamp_config  # editing.StampConfig; None: the defaults
        self._promote = promote  # ledger.finish_pending: staged weights -> path, old ones shredded
        self.on_done: Callable[[], Any] | None = None  # App: finish the erasures waiting on edits
        self.before_edit: Callable[[str], None] | None = None  # test seam: called (version id) before STAMP
        self.also: Callable[[], int] | None = None  # run after the edits (the shard retrains, model_shards.py)
        self._run_lock = threading.Lock()  # one runner at a time (thread or `models resume`)
        self._start_lock = threading.Lock()
        self._kick = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._running: set[str] = set()  # staging directories being written now (never swept)

    @property
    def dir(self) -> Path:
        return self.settings.home / JOB_DIR

    # ---- inside the delete transaction -----------------------------------------------------
    def record(self, conn: sqlite3.Connection, v: lstore.VersionRow, forget: Sequence[Memory]) -> lstore.JobRow:
        """Write the job file and the job row; mark the version not loadable ('superseded')."""
        job_id = str(ULID())
        path = self.dir / f"edit-{job_id}.json"
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        doc = {"format": JOB_FORMAT, "job": job_id, "version": v.id, "forget": [m.content for m in forget]}
        write_atomic(path, lambda fh: fh.write(json.dumps(doc)))
        job = lstore.JobRow(job_id, v.id, None, self.clock(), len(forget), str(path), "pending")
        lstore.insert_job(conn, job)
        if v.status == "active":
            lstore.set_status(conn, v.id, "superseded")
        return job

    def files(self) -> list[Path]:
        """Job files on disk (the forensic scan reads them: they hold erased text until shredded)."""
        try:
            return sorted(p for p in self.dir.iterdir() if p.is_file())
        except OSError:
            return []

    def sweep(self, conn: sqlite3.Connection) -> int:
        """Shred job files no pending job points to (a rolled-back transaction's, or a finished
        job's whose shredding was interrupted). Call under App.lock."""
        keep = {j.file for j in lstore.list_jobs(conn, state="pending")}
        n = 0
        for p in self.files():
            if str(p) not in keep:
                shred(p)
                n += 1
        return n

    def running_staging(self) -> set[str]:
        return set(self._running)

    # ---- the runner ------------------------------------------------------------------------
    def start(self) -> None:
        """Run the pending jobs on a background thread (no-op if one is running)."""
        with self._start_lock:
            if self._closed.is_set():
                return
            self._kick.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="memoryd-model-edits", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        try:
            while not self._closed.is_set():
                self._kick.clear()
                n = self.run_pending()
                n += self.also() if self.also is not None and not self._closed.is_set() else 0
                if n and self.on_done is not None:
                    self.on_done()
                with self._start_lock:
                    if not self._kick.is_set() or self._closed.is_set():
                        self._thread = None
                        return
        except Exception:  # noqa: BLE001 - the jobs stay pending: resumed at the next start
            log.exception("model edit job failed; it stays pending (`memoryd models resume` retries)")
        with self._start_lock:
            self._thread = None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background runner to finish; True if it did."""
        with self._start_lock:
            t = self._thread
        if t is not None:
            t.join(timeout)
            return not t.is_alive()
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the current edit (a job left pending is resumed at the next start)."""
        self._closed.set()
        if not self.wait(timeout):
            log.warning("a model edit is still running at close; it will be resumed at the next start")

    def pending(self) -> list[lstore.JobRow]:
        with self.lock:
            return lstore.list_jobs(self.conn, state="pending")

    def run_pending(self) -> int:
        """Run every pending job in this thread; returns how many were closed."""
        n = 0
        with self._run_lock:
            tried: set[str] = set()
            while not self._closed.is_set():
                todo = [j for j in self.pending() if j.version_id not in tried]
                if not todo:
                    break
                tried.add(todo[0].version_id)
                n += self._run_version(todo[0].version_id)
        return n

    def _run_version(self, vid: str) -> int:
        while True:
            self._promote()  # an edit may start from weights still staged
            with self.lock:
                jobs = lstore.list_jobs(self.conn, state="pending", version_id=vid)
                v = lstore.get_version(self.conn, vid)
                if not jobs or v is None:
                    return 0
                forget = _read_forget(jobs)
                retain = _retain_texts(self.conn, vid)
                heldout = _heldout_texts(self.conn, vid)
            new_id = str(ULID())
            src, staging = Path(v.path), Path(f"{v.path}{STAGING_MARK}{new_id}")
            report, reason = None, "weights not found at the recorded path"
            if has_weights(src):
                if forget is None:
                    reason = "a job file was lost: the erased texts are gone, the model cannot be edited"
                else:
                    self._running.add(str(staging))
                    try:
                        if self.before_edit is not None:
                            self.before_edit(vid)
                        report, reason = self._stamp(src, staging, forget, retain, heldout)
                    finally:
                        self._running.discard(str(staging))
            with self.lock:
                with transaction(self.conn):
                    now_jobs = lstore.list_jobs(self.conn, state="pending", version_id=vid)
                    if {j.id for j in now_jobs} != {j.id for j in jobs}:
                        fresh = False
                    else:
                        fresh = True
                        self._close_jobs(v, jobs, new_id, staging, report, reason)
            if not fresh:  # another erasure added memories (or another process finished): redo
                shred_tree(staging)
                continue
            if report is None or not report.erased:
                shred_tree(staging)
            self._promote()
            for j in jobs:
                shred(Path(j.file))
            return len(jobs)

    def _close_jobs(self, v: lstore.VersionRow, jobs: list[lstore.JobRow], new_id: str, staging: Path,
                    report: Any, reason: str) -> None:
        now = self.clock()
        ok = report is not None and report.erased
        missing = report is None and not has_weights(v.path)
        if ok:
            figs = {**figures(report), "edit": reason}  # which of the escalation's edits verified
            lstore.insert_version(self.conn, lstore.VersionRow(
                id=new_id, name=v.name, path=v.path, base=v.base, parent_id=v.id, created_at=now,
                status="active", method="stamp",
                metrics={"erased": sum(j.n_memories for j in jobs), "verification": figs},
                staging_path=str(staging)))
            lstore.insert_absorbed(self.conn, [replace(r, version_id=new_id) for r in lstore.absorbed(self.conn, v.id)])
        else:
            figs = {"reason": reason, **(figures(report) if report is not None else {})}
            if missing:
                lstore.set_status(self.conn, v.id, "weights_deleted")
            log.warning("model %s: STAMP edit did not verify (%s); the model is withdrawn", v.id, reason)
        outcome = "edited" if ok else ("missing" if missing else "withdrawn")
        for j in jobs:
            eid = str(ULID())
            lstore.insert_edit(self.conn, lstore.EditRow(eid, v.id, new_id if ok else None, j.request_id, now,
                                                         j.n_memories, outcome, figs))
            lstore.finish_job(self.conn, j.id, eid, now)

    def _stamp(self, src: Path, staging: Path, forget: list[str], retain: list[str], heldout: list[str]):
        """(ForgetReport | None, reason): the default edit, then stronger ones (`escalation`)
        while a fact still completes, a continuation still holds a word of an erased answer
        (F-RL > 0: the city of an address, say) or the kept memories lost more than
        RETAIN_FLOOR allows; the edited weights are in `staging` when the report says erased.
        Otherwise, among the attempts that complete no fact exactly, those keeping the floor
        first, the one with the lowest F-RL, then the highest retain, is kept (the edit is
        deterministic: it is computed again if need be). An exact completion is never kept:
        with no attempt free of one, the model is withdrawn."""
        from ..editing import StampConfig, forget_in_model  # torch, lazily

        configs = escalation(self.stamp_config or StampConfig())

        def attempt(i: int):
            shred_tree(staging)
            return forget_in_model(src, staging, forget, retain, configs[i], heldout_texts=heldout or None,
                                   device=self.device)

        def kept_as(i: int) -> str:
            return f"erased by the {ESCALATION_NAMES[i]} edit ({i + 1} of {len(tried)} tried)"

        tried = []  # the report of each attempt, in escalation order
        try:
            for i in range(len(configs)):
                report = attempt(i)
                tried.append(report)
                if report.erased and report.forget_rouge_l_after == 0.0 and report.retain_ratio >= RETAIN_FLOOR:
                    return report, kept_as(i)
            erased = [i for i, r in enumerate(tried) if r.erased]
            if not erased:
                return report, f"an erased fact still completes (exact rate {report.forget_exact_after:.3f})"
            # a word left is not worth the kept memories: on the 26M bench model, erasing 32
            # memories, the default edit left F-RL 0.0035 (below what never-seen profiles are
            # guessed at) with R-RL 1.000 of before, the stronger one F-RL 0 with R-RL 0.69
            kept = [i for i in erased if tried[i].retain_ratio >= RETAIN_FLOOR] or erased
            best = min(kept, key=lambda i: (tried[i].forget_rouge_l_after, -tried[i].retain_ratio))
            report = tried[best] if best == len(tried) - 1 else attempt(best)  # staging holds the last attempt
            if report.forget_rouge_l_after > 0.0:
                log.warning("STAMP edit: no fact completes, but a continuation still shares words with an erased "
                            "answer (F-RL %.3f)", report.forget_rouge_l_after)
            return report, kept_as(best)
        except Exception as exc:  # noqa: BLE001 - the memories are erased regardless; the model is withdrawn
            log.exception("STAMP edit failed")
            return None, f"edit failed: {type(exc).__name__}"


SHARP_REFUSAL_RANK = 4
ESCALATION_NAMES = ("default", "stronger", "sharper")
RETAIN_FLOOR = 0.95  # R-RL after / before an attempt must keep to be preferred (issue 20's retain target)


def escalation(base: Any) -> list[Any]:
    """The STAMP configs an erasure tries in turn (`base` a StampConfig):
    1. `base`, the default;
    2. stronger: the full solve, up to 8 layers, 3 more repair rounds;
    3. sharper: that with a 4-dimensional refusal subspace. The targets are the forget values
       moved onto the refusal subspace, and a wide one (16 of a 64-wide model's residual)
       holds targets close to where the values already are. Step 2 adds nothing on a model of
       3 layers or fewer. On tiny Qwen2, Mistral, Phi and GPT-2 models (3 layers, 64 wide, 8
       memories, each erased alone) steps 1-2 left a fact or a word of one in 2, 1, 1 and 7 of
       the 8 erasures; step 3 erased all of them, retain R-L as before.
    """
    stronger = replace(base, solver="full", n_layers=max(base.n_layers, 8), repair_rounds=base.repair_rounds + 3)
    out = [base, stronger]
    if base.refusal_rank > SHARP_REFUSAL_RANK:
        out.append(replace(stronger, refusal_rank=SHARP_REFUSAL_RANK))
    return out


def _read_forget(jobs: Sequence[lstore.JobRow]) -> list[str] | None:
    out: list[str] = []
    for j in jobs:
        try:
            doc = json.loads(Path(j.file).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.error("model edit job %s: job file unreadable", j.id)
            return None
        out += [str(t) for t in doc.get("forget", [])]
    return out


def _retain_texts(conn: sqlite3.Connection, vid: str) -> list[str]:
    ids = [r.memory_id for r in lstore.absorbed(conn, vid)]  # erased memories' rows are gone already
    if len(ids) > MAX_RETAIN:
        step = len(ids) / MAX_RETAIN
        ids = [ids[int(i * step)] for i in range(MAX_RETAIN)]
    mems = (mstore.get_by_id(conn, i) for i in ids)
    return [m.content for m in mems if m is not None]


def _heldout_texts(conn: sqlite3.Connection, vid: str) -> list[str]:
    seen = {r.memory_id for r in lstore.absorbed(conn, vid)}
    out = []
    for m in mstore.list_memories(conn, SearchFilters(), MAX_HELDOUT + len(seen)):
        if m.id not in seen:
            out.append(m.content)
            if len(out) == MAX_HELDOUT:
                break
    return out


def figures(report: Any) -> dict[str, Any]:
    """The verification figures of a ForgetReport (no text, no paths)."""
    d = report.to_dict()
    d.pop("out_dir", None)
    d["layer_stats"] = [{k: (round(x, 5) if isinstance(x, float) else x) for k, x in s.items()}
                        for s in d.get("layer_stats", [])]
    return d
