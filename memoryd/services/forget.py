"""`forget`: the one use case behind the CLI's `memoryd forget` and the MCP `forget` tool.

    forget(ids, caller) -> [Memory]

For every caller, in this order:
 1. each id is read as the caller sees it: unknown and hidden (another agent's private
    namespace) both raise the same NotFoundError, before anything else is said about it;
 2. the 'forget' scope and the MCP limit per call (`caller.max_destructive`) are checked;
    a memory absorbed by a local model is refused (erase it instead: the model is edited
    too; ModelLedgerService.guard_forget);
 3. the delete itself (MemoryService.forget_many) through the trust service, which records
    who deleted (an author deleting its own memory within an hour is evidence). Authority
    is checked there: an agent forgets only its own memories unless it holds 'erase', at
    most `caller.max_destructive` per call; the operator anything. The delete is secure
    (secure_delete, FTS 'delete'), logged in the deletion log, and the WAL is scrubbed
    after the commit;
 4. the files memoryd wrote with memory content (registered exports: `export --out`,
    `subject export`, `graph export`, plots) are rewritten without them
    (ErasureService.scrub_files), as an erasure does.

No receipt: a receipt is what `erase` (GDPR Art. 17) adds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..models import Memory
from .authority import OPERATOR, Caller

__all__ = ["ForgetService"]


class ForgetService:
    def __init__(self, *, memories: Callable[[], Any], trust: Callable[[], Any],
                 guard: Callable[[Sequence[str]], None],
                 files: Callable[[Sequence[Memory]], Any] | None = None):
        self._memories = memories  # () -> MemoryService
        self._trust = trust  # () -> TrustService (its forget records who deleted)
        self._guard = guard  # (ids) -> None or ValidationError: refuses memories a model absorbed
        self._files = files  # (memories) -> rewrites the registered files without them (ErasureService.scrub_files)

    def forget(self, memory_ids: Iterable[str], *, caller: Caller = OPERATOR) -> list[Memory]:
        """Delete these memories for good, within what `caller` may delete."""
        mems = self._memories()
        found = [mems.get(i, caller=caller) for i in memory_ids]  # hidden or unknown: the same NotFoundError, first
        caller.require("forget", "forget memories")
        caller.check_size(len(found), "forget")
        self._guard([m.id for m in found])
        gone = self._trust().forget([m.id for m in found], caller=caller)
        if self._files is not None:
            self._files(gone)
        return gone
