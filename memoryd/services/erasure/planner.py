"""The dry run against the store: look every candidate up (exact selections, full-text,
substring and digit look-ups, metadata values, the vector index), then let the pure planner
(memoryd.erasure.planning) judge them.

A collaborator held by :class:`memoryd.services.erasure.ErasureService` as `planner`. Its
state: the connection and lock, the memory service (a callable: its embedder and RAM vector
index are built on first use) and the clock."""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from ...db.driver import sqlite3
from ...erasure.models import ErasurePlan, ErasureRequest
from ...erasure.planning import VEC_CANDIDATES, FieldHit, assemble_plan, collect_field_hits, match_field_values
from ...erasure.subject import SubjectMatcher, parse_subject
from ...store import erasure as estore
from ...store import erasure_fields as fstore
from ...store import memories as mstore

__all__ = ["ErasurePlanner"]


class ErasurePlanner:
    def __init__(self, conn: sqlite3.Connection, *, lock: threading.RLock, memories: Callable[[], Any],
                 clock: Callable[[], float]):
        self.conn = conn
        self.lock = lock
        self._memories = memories  # () -> MemoryService (embed_query and the RAM vector index)
        self.clock = clock

    def plan(self, request: ErasureRequest) -> ErasurePlan:
        """What the request selects and why, plus the near misses (the operator's view)."""
        erase: dict[int, list[str]] = defaultdict(list)
        notes: list[str] = []
        matchers = [parse_subject(s) for s in request.subjects]
        found_by: list[dict[int, set[str]]] = [defaultdict(set) for _ in matchers]
        cosine: list[dict[int, float]] = [{} for _ in matchers]

        with self.lock:
            self._exact(request, erase, notes)
            for i, mt in enumerate(matchers):
                self._text_candidates(mt, found_by[i])
            field_hits = self._field_hits(matchers) if matchers else {}
            files = [path for path, _ in estore.registered_exports(self.conn)] if matchers else []
        notes += _named_files(matchers, files)

        if any(mt.embed_text for mt in matchers):
            svc = self._memories()
            for i, mt in enumerate(matchers):
                if not mt.embed_text:
                    continue
                qvec = svc.embed_query(mt.embed_text)
                for h in svc.index.search(qvec, VEC_CANDIDATES):
                    cosine[i][h.rowid] = h.score
                    found_by[i][h.rowid].add(f"meaning {h.score:.2f}")

        wanted = set(erase) | {r for fb in found_by for r in fb} | set(field_hits)
        with self.lock:
            versions = mstore.version_links(self.conn, wanted)  # earlier versions go with a memory
            wanted |= {r for link in versions for r in link}
            rows = mstore.get_by_rowids(self.conn, sorted(wanted))
        return assemble_plan(request, matchers, rows, erase, found_by, cosine, field_hits,
                             redactable=fstore.REDACTABLE, notes=notes, now=self.clock(), versions=versions)

    def _exact(self, request: ErasureRequest, erase: dict[int, list[str]], notes: list[str]) -> None:
        """Ids, agents and namespaces: selected exactly."""
        missing = 0
        for mid in request.memory_ids:
            m = mstore.get_by_id(self.conn, mid)
            if m is None:
                missing += 1
            else:
                erase[m.rowid].append("memory id named in the request")
        if missing:
            notes.append(f"{missing} requested memory id(s) not found (never stored, or already erased)")
        for a in request.agents:
            for r in estore.rowids_for_agents(self.conn, [a]):
                erase[r].append(f"written by agent {a!r}")
        for ns in request.namespaces:
            for r in estore.rowids_for_namespaces(self.conn, [ns]):
                erase[r].append(f"in namespace {ns!r}")

    def _text_candidates(self, mt: SubjectMatcher, found_by: dict[int, set[str]]) -> None:
        if mt.fts_terms:
            for r in estore.fts_candidates(self.conn, mt.fts_terms):
                found_by[r].add("full-text")
        for needle in mt.like_needles:
            for r in estore.like_candidates(self.conn, needle):
                found_by[r].add("substring")
        for digits in mt.digit_needles:
            for r in estore.digit_candidates(self.conn, digits):
                found_by[r].add("digits")

    def _field_hits(self, matchers: list[SubjectMatcher]) -> dict[int, list[FieldHit]]:
        """rowid -> hits of the subjects' rules in its metadata (distinct values are read
        and judged, then the rows holding the values that hit)."""
        out: dict[int, list[FieldHit]] = {}
        for per_field in match_field_values(matchers, fstore.distinct_values(self.conn)):
            for field, hit_vals in per_field.items():
                collect_field_hits(field, hit_vals, fstore.rowids_for_values(self.conn, field, list(hit_vals)), out)
        return out


def _named_files(matchers: list[SubjectMatcher], paths: list[str]) -> list[str]:
    """Notes on registered files (exports memoryd rewrites at every erasure) whose *name*
    names a subject: the registry keeps the path, so the name stays in the database while
    the file exists (docs/erasure.md, "Every file"). The notes never quote the path."""
    notes = []
    for i, mt in enumerate(matchers):
        n = 0
        for p in paths:
            name = PurePath(p).name
            if any(h.strong for t in (name, re.sub(r"[-_.]+", " ", name)) for h in mt.match(t)):
                n += 1
        if n:
            notes.append(f"subject {i + 1}: {n} registered file(s) (exports memoryd rewrites) are named after the "
                         "subject; their content is rewritten, but the path stays recorded while the file exists: "
                         "rename or delete the file (docs/erasure.md, 'Every file')")
    return notes
