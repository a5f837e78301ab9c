"""How derived stores take part in an erasure.

Two hook points exist:

* `MemoryService.listeners` — `before_delete(conn, memories)` is called inside the delete
  transaction of every erasure, exactly as for `forget`. Enough for rows that cascade or
  that a listener deletes itself.
* `ErasureService.register_hook(hook)` — an `ErasureHook` for stores that keep *derived
  text* (graph entity labels, trust evidence quoting content, a model ledger): it reports
  what it erased (counted in the receipt), tells the forensic scan which derived strings
  and files to check, and may add notes to the receipt after the deletion committed
  (e.g. "2 model edits scheduled").

Only `name` and `erase_derived` are required; the other methods are optional. `conn` is
the delete transaction's `sqlite3.Connection` (typed `Any` here: this package stays free of
the database, tests/core/test_architecture.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from ..models import Memory

__all__ = ["ErasureHook", "call_optional"]


@runtime_checkable
class ErasureHook(Protocol):
    name: str  # short store name, prefixes its counts in the receipt ("graph", "trust", "ledger")

    def erase_derived(self, conn: Any, memories: Sequence[Memory]) -> Mapping[str, int]:
        """Delete (or schedule the removal of) everything derived from `memories`.

        Called inside the erasure's delete transaction, on `conn`, before the memory rows
        are deleted: write with `conn` and never commit, so that the derived rows go with
        the memories or not at all. Returns counts per store, e.g. {"entities": 3}.
        Must be idempotent: after a crash the transaction is rolled back and redone."""
        ...

    # ---- optional -------------------------------------------------------------------------
    # Optional methods (looked up with getattr; a Protocol cannot mark them optional):
    #
    # def forensic_tokens(self, memories: Sequence[Memory]) -> Iterable[str]:
    #     """Derived strings (entity keys, summaries) that must not survive anywhere in the
    #     files; the forensic scan looks for them. Called before the deletion, in RAM only."""
    #
    # def forensic_paths(self) -> Iterable[Path]:
    #     """Files this store writes outside the database (model ledgers, caches); the
    #     forensic scan reads them."""
    #
    # def after_erasure(self, conn: Any, request_id: str) -> Mapping[str, Any]:
    #     """Called once the deletion committed, before the secure cleanup, the forensic scan
    #     and the receipt (again after a
    #     crash: be idempotent). What it returns is stored in the receipt under
    #     hooks.<name> — e.g. {"edit_jobs": 2}. No erased content in it. A truthy
    #     "pending" entry (a reason) keeps the request incomplete: the hook's work goes on
    #     after this call (a model edit outside the lock) and the hook has the request
    #     finished (ErasureService.resume_pending) once that work is verified."""


def call_optional(hook: object, method: str, *args: Any, default: Any) -> Any:
    """Call an optional hook method, or return `default` when the hook lacks it."""
    fn = getattr(hook, method, None)
    return default if fn is None else fn(*args)
