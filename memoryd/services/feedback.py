"""Feedback about memories: an agent says a memory was useful, wrong or harmful.

Events are stored as they come (append-only, one row each). Listeners of the memory service
that have ``after_feedback(conn, feedback_id)`` (the trust service) are called inside the same
transaction and turn the event into evidence; ``events(after_id=...)`` serves incremental
readers (trust also catches up from it, e.g. on rows written by an older process).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..db.driver import sqlite3
from ..db import transaction
from ..errors import ValidationError
from ..models import SearchFilters
from ..store import feedback as fstore
from ..store import memories as mstore
from .authority import OPERATOR, Caller
from .memories import MemoryService

__all__ = ["FeedbackEvent", "FeedbackService", "VERDICTS", "MAX_NOTE_CHARS"]

VERDICTS = fstore.VERDICTS
MAX_NOTE_CHARS = 2000


@dataclass(frozen=True)
class FeedbackEvent:
    id: int
    memory_id: str
    agent_id: str
    verdict: str
    note: str | None
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FeedbackService:
    def __init__(
        self,
        conn: sqlite3.Connection,
        memories: MemoryService,
        *,
        lock: threading.RLock,
        clock: Callable[[], float] = time.time,
    ):
        self.conn = conn
        self.memories = memories
        self.lock = lock
        self.clock = clock

    def record(self, memory_id: str, verdict: str, *, agent_id: str | None = None, note: str | None = None,
               caller: Caller = OPERATOR) -> FeedbackEvent:
        """Feedback on a memory the caller can read ('write' scope); recorded under
        `agent_id`, by default the caller's."""
        caller.require("write", "give feedback")
        agent_id = agent_id if caller.operator and agent_id is not None else caller.agent_id
        if verdict not in VERDICTS:
            raise ValidationError(f"verdict must be one of {', '.join(VERDICTS)}; got {verdict!r}")
        if note is not None:
            if not isinstance(note, str):
                raise ValidationError("note must be text")
            note = note.strip() or None
            if note is not None and len(note) > MAX_NOTE_CHARS:
                raise ValidationError(f"note is {len(note)} characters; the limit is {MAX_NOTE_CHARS}")
            if note is not None and "\x00" in note:
                raise ValidationError("note contains a NUL character")
        with self.lock:
            mem = self.memories.get(memory_id, caller=caller)  # NotFoundError for an unknown or hidden id
            now = self.clock()
            with transaction(self.conn):
                fid = fstore.insert_feedback(self.conn, mem.rowid, agent_id, verdict, note, now)
                for listener in list(self.memories.listeners):  # trust: evidence in this transaction
                    hook = getattr(listener, "after_feedback", None)
                    if hook is not None:
                        hook(self.conn, fid)
        return FeedbackEvent(fid, mem.id, agent_id, verdict, note, now)

    def counts(self, memory_id: str) -> dict[str, int]:
        """{useful, wrong, harmful} counts for one memory."""
        with self.lock:
            mem = self.memories.get(memory_id)
            got = fstore.verdict_counts(self.conn, [mem.rowid]).get(mem.rowid, {})
        return {v: got.get(v, 0) for v in VERDICTS}

    def totals(self, caller: Caller = OPERATOR) -> dict[str, int]:
        """Verdict counts over the memories the caller can read."""
        with self.lock:
            per = fstore.verdict_counts(self.conn)
            if not caller.operator and caller.denied:
                hidden = set(mstore.filter_rowids(self.conn, SearchFilters(namespaces=tuple(sorted(caller.denied)))))
                per = {r: c for r, c in per.items() if r not in hidden}
        out = {v: 0 for v in VERDICTS}
        for counts in per.values():
            for v, n in counts.items():
                out[v] = out.get(v, 0) + n
        return out

    def events(self, *, after_id: int = 0, limit: int = 1000) -> list[fstore.FeedbackRow]:
        """Raw events in id order (memory rowids), for incremental consumers such as trust."""
        with self.lock:
            return fstore.list_feedback(self.conn, after_id=after_id, limit=limit)
