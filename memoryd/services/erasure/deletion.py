"""Step 2 of an erasure, inside ONE transaction: listeners' before_delete, hooks'
erase_derived, the metadata redactions, and the delete of the rows (FTS 'delete' via
trigger, vectors/tags/feedback cascade). What the forensic scan will need (the erased
words' vocabulary, derived strings, metadata values) is gathered first, in RAM only.

A collaborator held by :class:`memoryd.services.erasure.ErasureService` as `deletion`. Its
state: the connection, the memory service (a callable: its listeners) and the service's
hook list. It never commits: the service owns the transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...db.driver import sqlite3
from ...erasure.hooks import ErasureHook, call_optional
from ...models import Memory
from ...store import erasure as estore
from ...store import erasure_fields as fstore
from ...store import memories as mstore

__all__ = ["ErasureDeletion"]

Redactions = list[tuple[Memory, tuple[tuple[str, str], ...]]]


class ErasureDeletion:
    def __init__(self, conn: sqlite3.Connection, *, memories: Callable[[], Any], hooks: Sequence[ErasureHook]):
        self.conn = conn
        self._memories = memories  # () -> MemoryService (its listeners)
        self.hooks = hooks  # the service's hook list (shared)

    def still_present(self, mems: list[Memory] | None, is_erased: Callable[[str], bool]) -> list[Memory]:
        """The rows to delete, read again inside the delete transaction."""
        if mems is None:  # resumed: find them by their hashed ids
            rowids = [r for r, i in estore.iter_ids(self.conn) if is_erased(i)]
        else:
            rowids = [m.rowid for m in mems]
        rows = mstore.get_by_rowids(self.conn, rowids)
        return [rows[r] for r in rowids if r in rows and is_erased(rows[r].id)]

    def derived_tokens(self, mems: list[Memory]) -> list[str]:
        """Strings the hooks derived from these memories (the scan looks for them)."""
        return [str(x) for h in self.hooks for x in call_optional(h, "forensic_tokens", mems, default=())]

    def metadata_values(self, mems: list[Memory]) -> list[str]:
        """Metadata values that leave with the rows (RAM only; structural ones excluded)."""
        return [v for vals in fstore.metadata_of(self.conn, [m.rowid for m in mems]).values()
                for f, v in vals if f not in fstore.STRUCTURAL]

    def vocab_before(self, mems: list[Memory]) -> dict[str, Any]:
        """Words only the erased memories use, per the FTS vocabulary (in RAM only)."""
        probe = estore.probe_terms([m.content for m in mems], estore.fts_tokenizer(self.conn))
        before = estore.vocab_doc_counts(self.conn, probe)
        exclusive = [t for t, n in probe.items() if before.get(t, 0) - n <= 0]
        return {"terms": len(probe), "exclusive": exclusive}

    def delete(self, mems: list[Memory]) -> dict[str, int]:
        rowids = [m.rowid for m in mems]
        counts: dict[str, int] = {"memories": 0, "fts_entries": 0}
        if not rowids:
            return counts
        if estore.fts_secure_delete_supported():
            estore.fts_set_secure_delete(self.conn)
        cascade = estore.cascade_counts(self.conn, rowids)
        for listener in getattr(self._memories(), "listeners", []):
            listener.before_delete(self.conn, mems)
        for h in self.hooks:
            for k, v in dict(h.erase_derived(self.conn, mems)).items():
                counts[f"{h.name}.{k}"] = int(v)
        n = mstore.delete_by_rowids(self.conn, rowids)
        counts["memories"] = counts["fts_entries"] = n
        counts.update(cascade)
        estore.bump_epoch(self.conn)
        return counts

    def redact(self, req: estore.PendingRequest, redactions: Redactions | None, fields: list[str]) -> dict[str, int]:
        """Remove the metadata values that name the subject from memories that stay
        (ErasureRequest.field_hits='redact'); the values removed are added to `fields`.
        The values were only ever in RAM: a request resumed after a crash cannot redact,
        and says so."""
        planned = len(req.options.get("redact", []))
        if not planned:
            return {}
        if redactions is None:
            return {"memories_redacted": 0, "redactions_not_applied": planned}
        changed = 0
        for m, vals in redactions:
            for field, value in vals:
                changed += fstore.redact(self.conn, m.rowid, field, value)
                fields.append(value)
        return {"memories_redacted": len(redactions), "values_redacted": changed}
