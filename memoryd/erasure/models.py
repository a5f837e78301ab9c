"""Plain data of an erasure: the request, the dry-run plan, the receipt, a verification."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import ValidationError

__all__ = ["FIELD_HIT_ACTIONS", "GROUNDS", "ErasureRequest", "PlanItem", "ErasurePlan", "ErasureReceipt", "ReceiptVerification"]

# Art. 17(1) GDPR, points (a)-(f): the ground a request is made on (optional, recorded as is)
FIELD_HIT_ACTIONS = ("erase", "redact")
GROUNDS = ("no-longer-necessary", "consent-withdrawn", "objection", "unlawful", "legal-obligation", "child")


@dataclass(frozen=True)
class ErasureRequest:
    """What to erase. Selectors are combined with OR; `exclude_ids` wins over all of them."""

    memory_ids: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()  # names, e-mail addresses, @handles, phone numbers, other ids
    agents: tuple[str, ...] = ()  # every memory written by these agents
    namespaces: tuple[str, ...] = ()  # every memory in these namespaces
    exclude_ids: tuple[str, ...] = ()  # keep these even if a selector matches (after a dry run)
    ground: str | None = None  # one of GROUNDS
    # a subject found only in a memory's metadata (tag, source, session, kind, feedback
    # note): "erase" the memory (default) or "redact" just those values and keep it
    field_hits: str = "erase"

    def __post_init__(self) -> None:
        for name in ("memory_ids", "subjects", "agents", "namespaces", "exclude_ids"):
            v = getattr(self, name)
            if isinstance(v, str) or not all(isinstance(x, str) and x.strip() for x in v):
                raise ValidationError(f"{name} must be a list of non-empty strings")
            object.__setattr__(self, name, tuple(dict.fromkeys(x.strip() for x in v)))
        if self.field_hits not in FIELD_HIT_ACTIONS:
            raise ValidationError(f"field_hits must be one of {', '.join(FIELD_HIT_ACTIONS)}")
        if self.ground is not None and self.ground not in GROUNDS:
            raise ValidationError(f"ground must be one of {', '.join(GROUNDS)}")
        if not (self.memory_ids or self.subjects or self.agents or self.namespaces):
            raise ValidationError("an erasure request needs at least one memory id, subject, agent or namespace")


@dataclass(frozen=True)
class PlanItem:
    memory_id: str
    rowid: int
    namespace: str
    agent_id: str
    created_at: float
    preview: str  # start of the text, for the operator's dry run only (never persisted)
    reasons: tuple[str, ...]
    # (field, value) of the metadata that names the subject (tag, source, ...): what a
    # redaction removes. In RAM only, for the request; the dry run shows the field names.
    fields: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("rowid")
        d["reasons"] = list(self.reasons)
        d["fields"] = sorted({f for f, _ in self.fields})
        return d


@dataclass(frozen=True)
class ErasurePlan:
    """The dry run: what `execute` would erase and why, and the near misses it would not."""

    request: ErasureRequest
    items: tuple[PlanItem, ...]
    near_misses: tuple[PlanItem, ...]
    created_at: float
    notes: tuple[str, ...] = ()
    redactions: tuple[PlanItem, ...] = ()  # memories kept, with metadata values removed

    @property
    def memory_ids(self) -> tuple[str, ...]:
        return tuple(i.memory_id for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": True,
            "would_erase": len(self.items),
            "items": [i.to_dict() for i in self.items],
            "near_misses": [i.to_dict() for i in self.near_misses],
            "would_redact": len(self.redactions),
            "redactions": [i.to_dict() for i in self.redactions],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ErasureReceipt:
    """One sealed record of the audit log. `body` holds no erased content and no identifier
    in clear (see docs/erasure.md, 'Receipt format')."""

    id: str
    seq: int
    body: dict[str, Any]
    prev_mac: str
    mac: str

    @property
    def ok(self) -> bool:
        """Verified and sealed: an incomplete (pending) request is never ok."""
        return bool(self.body.get("verification", {}).get("ok")) and self.body.get("status") != "incomplete"

    def to_dict(self) -> dict[str, Any]:
        return {**self.body, "seal": {"seq": self.seq, "prev_mac": self.prev_mac, "mac": self.mac,
                                      "chain": "HMAC-SHA256(k_audit, prev_mac || canonical_json(record))"}}

    def to_text(self) -> str:
        from .receipts import render_text  # noqa: PLC0415 - rendering lives with the format

        return render_text(self)


@dataclass(frozen=True)
class ReceiptVerification:
    receipt_id: str
    ok: bool
    chain_ok: bool
    chain_count: int
    chain_first_bad_index: int | None
    chain_reason: str
    receipt_mac_ok: bool
    head_ok: bool
    rows_remaining: int | None  # erased ids still present in the memories table
    id_scan: dict[str, Any] | None  # raw-byte scan of owned files for the erased ids
    subject_in_scope: bool | None = None  # when a subject was given to check
    checked_at: float = field(default=0.0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checked_at"] = datetime.fromtimestamp(self.checked_at, tz=timezone.utc).isoformat()
        return d
