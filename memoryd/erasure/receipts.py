"""Receipt format, keyed salted hashes, sealing into the audit chain, and the readable
report for the data subject. Pure: keys and records come in, nothing is read or written.

Hashes: every identifier that a receipt refers to (memory ids, the subject, agents,
namespaces) is stored only as

    HMAC-SHA256(k_ids, salt || value)[:16 bytes], hex

with a fresh random salt per request and `k_ids = derive_key(master, "erasure-ids")`. With
the key (the operator) a value can be checked against a receipt; without it a leaked
receipt cannot be brute-forced from a list of names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, Protocol

from ..trust.chain import canonical_json, derive_key, seal
from .models import ErasureReceipt

__all__ = [
    "RECEIPT_FORMAT",
    "RECEIPT_KIND",
    "new_salt",
    "ids_key",
    "chain_key",
    "keyed_hash",
    "body_text",
    "seal_record",
    "head_mac",
    "receipt_from_record",
    "render_text",
]

RECEIPT_FORMAT = "memoryd-erasure-receipt/1"
RECEIPT_KIND = "erasure_receipt"
HASH_BYTES = 16


class ChainRecord(Protocol):
    """A record of the audit chain as the store returns it (store.audit.AuditRecord)."""

    seq: int
    ref_id: str
    body: str
    prev_mac: str
    mac: str

    def chain_record(self) -> dict: ...


def new_salt() -> str:
    return secrets.token_hex(16)


def ids_key(master: bytes) -> bytes:
    return derive_key(master, "erasure-ids")


def chain_key(master: bytes) -> bytes:
    return derive_key(master, "erasure-audit")


def keyed_hash(k_ids: bytes, salt: str, value: str) -> str:
    return hmac.new(k_ids, bytes.fromhex(salt) + value.encode("utf-8"), hashlib.sha256).digest()[:HASH_BYTES].hex()


def hash_set(k_ids: bytes, salt: str, values: Iterable[str]) -> set[str]:
    return {keyed_hash(k_ids, salt, v) for v in values}


def body_text(body: dict[str, Any]) -> str:
    """The canonical JSON that is stored and sealed."""
    return canonical_json(body).decode("utf-8")


def seal_record(rec: ChainRecord, k_chain: bytes) -> str:
    return seal(rec.chain_record(), rec.prev_mac, k_chain)


def head_mac(k_chain: bytes, count: int, mac: str) -> str:
    """Seal of the chain head kept in `meta` (catches records cut off the end)."""
    return hmac.new(k_chain, f"audit-head:{count}:{mac}".encode(), hashlib.sha256).hexdigest()


def receipt_from_record(rec: ChainRecord) -> ErasureReceipt:
    return ErasureReceipt(id=rec.ref_id, seq=rec.seq, body=json.loads(rec.body), prev_mac=rec.prev_mac, mac=rec.mac)


# ---- the readable report -------------------------------------------------------------------
def _when(ts: float | None) -> str:
    if ts is None:
        return "?"
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


_SELECTOR = {
    "subject": "everything about a person ({kind}), found by name/identifier variants and meaning",
    "memory_id": "a memory named by its id",
    "agent": "every memory written by one agent",
    "namespace": "every memory in one namespace",
}
_STORE = {
    "memories": "memories (text rows)",
    "fts_entries": "full-text index entries",
    "embeddings": "embedding vectors",
    "memory_tags": "tag links",
    "feedback": "feedback events about them",
    "exports_rewritten": "export files rewritten without them",
    "exports_shredded": "export files destroyed",
    "export_lines_removed": "lines removed from export files",
}


def render_text(r: ErasureReceipt) -> str:
    b = r.body
    v = b.get("verification", {})
    c = b.get("cleanup", {})
    lines = [
        f"Erasure receipt {r.id}",
        "=" * (16 + len(r.id)),
        f"Legal basis:  GDPR Article 17 (right to erasure){' - ' + b['ground'] if b.get('ground') else ''}",
        f"Requested:    {_when(b.get('requested_at'))}",
        f"Completed:    {_when(b.get('completed_at'))}" + ("  (finished after an interruption)" if b.get("resumed") else ""),
        "",
        "What was asked",
    ]
    sels = b.get("scope", {}).get("selectors", [])
    if not sels:
        lines.append("  (no selector)")
    for s in sels:
        lines.append("  - " + _SELECTOR.get(s.get("type"), s.get("type", "?")).format(kind=s.get("kind", "?")))
    lines.append("  (identifiers are recorded only as keyed hashes; this receipt contains none of the erased text)")
    lines += ["", "What was erased"]
    counts = b.get("counts", {})
    for k, n in counts.items():
        lines.append(f"  {n:>7}  {_STORE.get(k, k)}")
    lines += [
        "",
        "How",
        "  - deleted in one database transaction (all or nothing, crash-safe)",
        f"  - freed bytes overwritten with zeros (SQLite secure_delete={c.get('secure_delete', '?')})",
        f"  - full-text index: {c.get('fts', '?')}",
        f"  - write-ahead log checkpointed and truncated: {'yes' if c.get('wal_truncated') else 'NO'}",
        f"  - VACUUM: {c.get('vacuum', '?')}",
    ]
    for f in c.get("files", []):
        lines.append(f"  - registered file ({f.get('file')}, {f.get('format')}): {f.get('action')}"
                     + (f", {f['removed']} entries removed" if f.get("removed") else ""))
    lines += [
        "",
        "Verification (right after the erasure)",
    ]
    cs, ids = v.get("content_scan", {}), v.get("id_scan", {})
    if cs.get("performed"):
        lines.append(f"  - raw bytes of {cs.get('files', 0)} files ({cs.get('bytes', 0):,} bytes) searched for the erased "
                     f"text and {cs.get('needles', 0)} distinctive fragments: {cs.get('hits', 0)} found")
    else:
        lines.append(f"  - content scan: not performed ({cs.get('reason', '')})")
    lines.append(f"  - erased ids searched in the same files: {ids.get('hits', '?')} found")
    for f in cs.get("per_file", []):
        lines.append(f"      {f.get('file')}: {f.get('bytes', 0):,} bytes scanned, {f.get('hits', 0)} found")
    fv = v.get("fts_vocab", {})
    if fv.get("performed"):
        lines.append(f"  - full-text vocabulary: {fv.get('exclusive_terms', 0)} words only the erased memories used; "
                     f"{fv.get('residue', 0)} still indexed")
    lines.append(f"  - full-text index integrity check: {v.get('fts_integrity', '?')}")
    lines.append(f"  - erased ids still in the memories table: {v.get('rows_remaining', '?')}")
    for name, notes in b.get("hooks", {}).items():
        lines.append(f"  - {name}: " + ", ".join(f"{k}={val}" for k, val in notes.items()))
    lines += [
        "",
        f"Result: {'VERIFIED - nothing of the erased memories was found' if v.get('ok') else 'NOT VERIFIED - see details above'}",
        "",
        f"Seal: record {r.seq} of the keyed hash-chained audit log, MAC {r.mac[:16]}…",
        f"Check it any time with: memoryd erase verify {r.id}",
    ]
    return "\n".join(lines) + "\n"
