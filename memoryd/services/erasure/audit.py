"""The erasure audit log: sealing receipts into the keyed hash chain, listing them (with the
requests still incomplete), reading one, and re-verifying one (chain, MAC, head, re-scan).

A collaborator held by :class:`memoryd.services.erasure.ErasureService` as `audit`; its
state is what it is given: the connection and lock, the verifier (which files a re-scan
reads), the clock, and the key (a callable: the key file is read on first use)."""

from __future__ import annotations

import dataclasses
import hmac
import json
import threading
from collections.abc import Callable
from typing import Any

from ...db.driver import sqlite3

from ...erasure.forensic import scan_hashed_ids
from ...erasure.models import ErasureReceipt, ReceiptVerification
from ...erasure.receipts import RECEIPT_KIND, body_text, chain_key, head_mac, ids_key, keyed_hash, receipt_from_record, seal_record
from ...erasure.subject import parse_subject
from ...errors import ErasureError, NotFoundError
from ...db import transaction
from ...store import audit
from ...store import erasure as estore
from ...trust.chain import GENESIS_MAC, verify_chain
from .verifier import ErasureVerifier

__all__ = ["ErasureAuditLog"]


class ErasureAuditLog:
    def __init__(self, conn: sqlite3.Connection, *, lock: threading.RLock, verifier: ErasureVerifier,
                 clock: Callable[[], float], key: Callable[[], bytes]):
        self.conn = conn
        self.lock = lock
        self.verifier = verifier  # the files memoryd owns (settings and the service's hooks)
        self.clock = clock
        self._key = key  # () -> the master key

    def seal(self, rid: str, body: dict[str, Any]) -> ErasureReceipt:
        """Append the receipt of request `rid` to the chain and drop its pending row, in one
        transaction; if another process sealed it meanwhile, return that receipt."""
        k_chain = chain_key(self._key())
        with self.lock:
            with transaction(self.conn):
                if estore.get_request(self.conn, rid) is None:  # sealed by another process
                    rec = audit.get(self.conn, rid)
                    if rec is None:
                        raise ErasureError(f"erasure {rid} vanished before its receipt was written")
                    return receipt_from_record(rec)
                prev = audit.last(self.conn)
                rec = audit.AuditRecord(
                    seq=(prev.seq + 1) if prev else 1, kind=RECEIPT_KIND, ref_id=rid, created_at=self.clock(),
                    body=body_text(body), prev_mac=prev.mac if prev else GENESIS_MAC, mac="")
                rec = dataclasses.replace(rec, mac=seal_record(rec, k_chain))
                audit.append(self.conn, rec)
                audit.head_set(self.conn, {"count": rec.seq, "mac": rec.mac,
                                           "seal": head_mac(k_chain, rec.seq, rec.mac)})
                estore.delete_request(self.conn, rid)
        return receipt_from_record(rec)

    def receipts(self) -> list[dict[str, Any]]:
        """One summary line per receipt, oldest first, then the requests still pending
        (status 'incomplete': never shown as verified until their receipt is sealed)."""
        out = []
        with self.lock:
            for rec in audit.iter_records(self.conn, RECEIPT_KIND):
                try:
                    b = json.loads(rec.body)
                except json.JSONDecodeError:
                    b = {}
                out.append({"id": rec.ref_id, "seq": rec.seq, "completed_at": b.get("completed_at"),
                            "memories": b.get("counts", {}).get("memories"),
                            "selectors": [s.get("type") for s in b.get("scope", {}).get("selectors", [])],
                            "verified": b.get("verification", {}).get("ok"), "resumed": b.get("resumed"),
                            "status": b.get("status") or ("verified" if b.get("verification", {}).get("ok")
                                                          else "failed")})
            pending = estore.pending_requests(self.conn)
        for req in pending:  # not sealed: deleted but not (yet) cleaned up and verified, or not started
            out.append({"id": req.id, "seq": None, "completed_at": None, "memories": req.counts.get("memories"),
                         "selectors": [s.get("type") for s in req.scope.get("selectors", [])],
                         "verified": False, "resumed": None, "status": "incomplete",
                         "state": req.state, "attempts": req.options.get("attempts", 0),
                         "reason": req.options.get("last_error")})
        return out

    def receipt(self, receipt_id: str) -> ErasureReceipt:
        with self.lock:
            rec = audit.get(self.conn, receipt_id)
        if rec is None:
            raise NotFoundError(f"no erasure receipt {receipt_id!r}")
        try:
            return receipt_from_record(rec)
        except json.JSONDecodeError as exc:
            raise ErasureError(f"receipt {receipt_id} is damaged (not JSON): run `memoryd erase verify`") from exc

    def verify(self, receipt_id: str, *, scan: bool = True, subject: str | None = None) -> ReceiptVerification:
        """Re-check a receipt: the whole chain, the receipt's own MAC, the sealed head, and
        (scan=True) that none of its erased ids is in the table or in any owned file."""
        k_chain = chain_key(self._key())
        with self.lock:
            records = list(audit.iter_records(self.conn))
            head = audit.head_get(self.conn)
            exports = estore.registered_exports(self.conn)
        idx = next((i for i, r in enumerate(records) if r.ref_id == receipt_id), None)
        if idx is None:
            raise NotFoundError(f"no erasure receipt {receipt_id!r}")
        rec = records[idx]
        cv = verify_chain(((r.chain_record(), r.mac) for r in records), k_chain,
                          expected_count=head.get("count") if head else None,
                          expected_head=head.get("mac") if head else None)
        head_ok = (head is not None and isinstance(head.get("seal"), str) and hmac.compare_digest(
            head_mac(k_chain, int(head.get("count", -1)), str(head.get("mac"))), head["seal"])) or (
            head is None and not records)
        prev_ok = rec.prev_mac == (records[idx - 1].mac if idx else GENESIS_MAC)
        mac_ok = prev_ok and hmac.compare_digest(seal_record(rec, k_chain), rec.mac)
        rows_remaining = id_scan = in_scope = None
        try:
            body = json.loads(rec.body)
        except json.JSONDecodeError:
            body = None
        if body is not None and (scan or subject):
            k_ids = ids_key(self._key())
            salt = body.get("salt", "")
            hashed = set(body.get("erased_ids", []))

            def is_erased(mem_id: str) -> bool:
                return keyed_hash(k_ids, salt, mem_id) in hashed

            if scan:
                with self.lock:
                    rows_remaining = sum(1 for _, i in estore.iter_ids(self.conn) if is_erased(i))
                id_scan = scan_hashed_ids(self.verifier.owned_files(exports), is_erased)
            if subject:
                want = keyed_hash(k_ids, salt, parse_subject(subject).normalized())
                in_scope = any(s.get("hash") == want for s in body.get("scope", {}).get("selectors", []))
        ok = cv.ok and head_ok and mac_ok and body is not None and (
            not scan or (rows_remaining == 0 and id_scan is not None and id_scan["hits"] == 0))
        return ReceiptVerification(
            receipt_id=receipt_id, ok=bool(ok), chain_ok=cv.ok, chain_count=cv.count,
            chain_first_bad_index=cv.first_bad_index, chain_reason=cv.reason, receipt_mac_ok=mac_ok,
            head_ok=head_ok, rows_remaining=rows_remaining, id_scan=id_scan, subject_in_scope=in_scope,
            checked_at=self.clock())

