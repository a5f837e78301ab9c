"""Model ledger service (placeholder until the ledger lands): no models are known."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class ModelLedgerService:
    name = "ledger"

    def __init__(self, conn, *, lock, settings, clock, memories):
        self.conn, self.lock, self.settings, self.clock, self._memories = conn, lock, settings, clock, memories

    def erase_derived(self, conn, memories: Sequence) -> Mapping[str, int]:
        return {}
