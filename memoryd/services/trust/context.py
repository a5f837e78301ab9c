"""The state every collaborator of the trust service shares, in one explicit object."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...db.driver import sqlite3
from ...trust import DetectParams, TrustParams
from ...trust.screen import ScreenParams
from .ledger import EvidenceLedger
from .scorer import TrustScorer
from .snapshot import Snapshot

if TYPE_CHECKING:
    from ..memories import MemoryService

__all__ = ["TrustContext", "OPERATOR"]

OPERATOR = "@operator"  # giver of feedback typed at the CLI; not a valid agent name


@dataclass
class TrustContext:
    """One per :class:`~memoryd.services.trust.TrustService`. All time comes from ``clock``."""

    conn: sqlite3.Connection
    memories: MemoryService
    lock: threading.RLock
    clock: Callable[[], float]
    params: TrustParams
    detect: DetectParams
    screen: ScreenParams
    ledger: EvidenceLedger  # the evidence log and its RAM mirror
    scorer: TrustScorer  # scores from the mirror, cached per agent

    def snapshot(self, now: float | None = None) -> Snapshot:
        """Scores at ``now`` (default: the clock)."""
        return self.scorer.snapshot(self.clock() if now is None else now)
