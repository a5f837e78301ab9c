"""What the forensic scan of one erasure request needs, kept in RAM only (never written):
the erased texts and ids, derived strings, metadata values and the FTS vocabulary probe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Stash"]


@dataclass
class Stash:
    """What the forensic scan of one request needs; in RAM only, dropped when sealed.
    `texts`/`ids` are None when the request was resumed by a process that never held them."""

    texts: list[str] | None
    ids: list[str] | None
    derived: list[str]
    fields: list[str]
    vocab: dict[str, Any] | None
