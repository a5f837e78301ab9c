"""The evidence log as the trust service sees it: appended under the keyed hash chain,
mirrored in RAM per subject, verified.

* ``append(evidence)``: inside the caller's transaction; seals each record after the last
  one *in the database* (another process may have appended) and updates the sealed head.
  Refuses to extend a log whose head does not match its last record (fail closed).
* ``sync()``: loads records appended since the last call (by anyone), checking each MAC
  against the previous one, so a row edited in the file is never scored. A rolled-back
  append or a rewritten log is noticed (the MAC at our last position changed) and the
  mirror is rebuilt; ``generation`` then changes, which invalidates score caches.
* ``verify()``: the whole chain, the head seal, and that the indexed columns agree with
  the sealed records.

Memories are named by ``mref(memory_id)``: a keyed pseudonym, so the log (which outlives
erasure) never holds a raw memory id that erasure's forensic scan would find.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...db.driver import sqlite3
from ...errors import TrustError, ValidationError
from ...store import trust as tstore
from ...trust import GENESIS_MAC, Evidence, canonical_json, derive_key, seal, verify_chain

__all__ = ["EvidenceLedger", "LogVerification"]


@dataclass(frozen=True)
class LogVerification:
    ok: bool
    count: int  # records read
    head_count: int | None  # what the sealed head says
    first_bad_seq: int | None  # 1-based seq of the first bad record (count + 1: missing tail)
    reason: str

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "count": self.count,
            "head_count": self.head_count,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
        }


class EvidenceLedger:
    def __init__(self, conn: sqlite3.Connection, key: Callable[[], bytes]):
        self.conn = conn
        self.master_key = key  # App.master_key
        self._keys: tuple[bytes, bytes, bytes] | None = None
        self._mref_cache: dict[str, str] = {}
        self.by_agent: dict[str, list[Evidence]] = defaultdict(list)
        self.by_memory: dict[str, list[Evidence]] = defaultdict(list)
        self.last_seq = 0
        self.last_mac = GENESIS_MAC
        self.generation = 0  # bumped whenever the mirror is rebuilt

    # ---- keys ------------------------------------------------------------------------------
    def _k(self) -> tuple[bytes, bytes, bytes]:
        if self._keys is None:
            master = self.master_key()
            self._keys = (
                derive_key(master, "trust-evidence"),
                derive_key(master, "trust-evidence-head"),
                derive_key(master, "trust-memory-ref"),
            )
        return self._keys

    def mref(self, memory_id: str) -> str:
        """Keyed pseudonym of a memory id (32 hex characters) used in the log."""
        ref = self._mref_cache.get(memory_id)
        if ref is None:
            ref = hmac.new(self._k()[2], memory_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
            if len(self._mref_cache) > 200_000:
                self._mref_cache.clear()
            self._mref_cache[memory_id] = ref
        return ref

    def _head_seal(self, count: int, head: str) -> str:
        return seal({"log": "trust-evidence", "count": count, "head": head}, None, self._k()[1])

    # ---- RAM mirror --------------------------------------------------------------------------
    def _reset(self) -> None:
        self.by_agent.clear()
        self.by_memory.clear()
        self.last_seq, self.last_mac = 0, GENESIS_MAC
        self.generation += 1

    def _index(self, ev: Evidence) -> None:
        (self.by_agent if ev.subject_type == "agent" else self.by_memory)[ev.subject_id].append(ev)

    def sync(self) -> bool:
        """Load what was appended since the last call. True when anything changed."""
        last = tstore.last_entry(self.conn)
        if self.last_seq and tstore.mac_at(self.conn, self.last_seq) != self.last_mac:
            self._reset()  # rolled back or rewritten under us: rebuild (and re-verify) from scratch
        if last is None:
            changed = self.last_seq != 0
            if changed:
                self._reset()
            return changed
        if last[0] == self.last_seq:
            return False
        key = self._k()[0]
        for row in tstore.evidence_after(self.conn, self.last_seq):
            if row.seq != self.last_seq + 1:
                raise TrustError(f"evidence log has a gap before record {row.seq}; run `memoryd trust verify`")
            record = json.loads(row.record)
            if not hmac.compare_digest(seal(record, self.last_mac, key), row.mac):
                raise TrustError(f"evidence record {row.seq} fails its MAC; run `memoryd trust verify`")
            ev = Evidence.from_record(record)
            if (ev.subject_type, ev.subject_id, ev.kind.value) != (row.subject_type, row.subject_id, row.kind):
                raise TrustError(f"evidence record {row.seq} disagrees with its columns; run `memoryd trust verify`")
            self._index(ev)
            self.last_seq, self.last_mac = row.seq, row.mac
        return True

    # ---- append (inside the caller's transaction) ---------------------------------------------
    def append(self, evidence: Sequence[Evidence]) -> int:
        if not evidence:
            return 0
        key = self._k()[0]
        last = tstore.last_entry(self.conn)
        seq, prev = last if last is not None else (0, GENESIS_MAC)
        head = tstore.head_get(self.conn)
        if head is None:
            if seq:
                raise TrustError("evidence log has records but no sealed head; run `memoryd trust verify`")
        elif (
            head.count != seq
            or head.head != prev
            or not hmac.compare_digest(self._head_seal(head.count, head.head), head.seal)
        ):
            raise TrustError("evidence log head does not match its last record; run `memoryd trust verify`")
        rows = []
        for ev in evidence:
            record = ev.to_record()
            if ev.subject_type == "memory" and len(ev.subject_id) != 32:
                raise ValidationError("memory evidence must name the memory by its mref")
            mac = seal(record, prev, key)
            seq += 1
            rows.append(
                tstore.EvidenceRow(
                    seq, ev.subject_type, ev.subject_id, ev.kind.value, ev.created_at,
                    canonical_json(record).decode("utf-8"), mac,
                )
            )
            prev = mac
        tstore.append_evidence(self.conn, rows)
        tstore.head_set(self.conn, tstore.HeadRow(seq, prev, self._head_seal(seq, prev)))
        return len(rows)

    # ---- verification ------------------------------------------------------------------------
    def verify(self) -> LogVerification:
        key = self._k()[0]
        head = tstore.head_get(self.conn)
        rows = list(tstore.iter_evidence(self.conn))
        head_count = head.count if head else None
        for i, row in enumerate(rows):
            if row.seq != i + 1:
                return LogVerification(False, len(rows), head_count, i + 1, f"record {i + 1} is missing")
        try:
            records = [(json.loads(r.record), r.mac) for r in rows]
        except ValueError:
            bad = next(i for i, r in enumerate(rows) if not _is_json(r.record))
            return LogVerification(False, len(rows), head_count, bad + 1, "record is not valid JSON")
        if head is not None and not hmac.compare_digest(self._head_seal(head.count, head.head), head.seal):
            return LogVerification(False, len(rows), head_count, None, "the sealed head was altered")
        if head is None and rows:
            return LogVerification(False, len(rows), None, None, "the sealed head is missing")
        cv = verify_chain(
            records, key,
            expected_count=head.count if head else 0,
            expected_head=head.head if head else GENESIS_MAC,
        )
        if not cv.ok:
            return LogVerification(False, cv.count, head_count, (cv.first_bad_index or 0) + 1, cv.reason)
        for row, (record, _) in zip(rows, records):
            if (record.get("subject_type"), record.get("subject_id"), record.get("kind")) != (
                row.subject_type, row.subject_id, row.kind,
            ):
                return LogVerification(False, len(rows), head_count, row.seq, "indexed columns differ from the sealed record")
        return LogVerification(True, len(rows), head_count, None, "")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
