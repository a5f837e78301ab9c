"""The dry run: which memories a request selects, and why.

Ids, agents and namespaces select exactly. A subject is looked up three ways — the full-text
index (surname, given name, joined user-name forms), a substring scan for phone numbers and
literal identifiers, and the vector index (memories close in meaning to the identifier) —
and every candidate is then *read* by the subject's rules (memoryd.erasure.subject): only
a strong rule erases; weak rules and meaning alone only list the memory as a near miss, so
a different person with a similar name is never erased without the operator seeing it.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

from ..db.driver import sqlite3
from ..models import Memory
from ..store import erasure as estore
from ..store import erasure_fields as fstore
from ..store import memories as mstore
from .models import ErasurePlan, ErasureRequest, PlanItem
from .subject import SubjectMatcher, fold, parse_subject

__all__ = ["build_plan", "VEC_CANDIDATES", "VEC_NEAR"]

VEC_CANDIDATES = 50  # nearest memories looked at per subject
VEC_NEAR = 0.55  # cosine above which a memory naming no identifier is listed as a near miss
PREVIEW = 120


def _preview(text: str) -> str:
    s = " ".join(text.split())
    return s if len(s) <= PREVIEW else s[: PREVIEW - 1] + "…"


def _item(m: Memory, reasons: list[str], fields: tuple[tuple[str, str], ...] = ()) -> PlanItem:
    return PlanItem(m.id, m.rowid, m.namespace, m.provenance.agent_id, m.created_at, _preview(m.content),
                    tuple(dict.fromkeys(reasons)), fields)


def build_plan(
    conn: sqlite3.Connection,
    lock: threading.RLock,
    memories: Callable[[], object],
    request: ErasureRequest,
    now: float,
) -> ErasurePlan:
    erase: dict[int, list[str]] = defaultdict(list)
    near: dict[int, list[str]] = defaultdict(list)
    notes: list[str] = []
    matchers = [parse_subject(s) for s in request.subjects]
    found_by: list[dict[int, set[str]]] = [defaultdict(set) for _ in matchers]
    cosine: list[dict[int, float]] = [{} for _ in matchers]

    with lock:
        missing = 0
        for mid in request.memory_ids:
            m = mstore.get_by_id(conn, mid)
            if m is None:
                missing += 1
            else:
                erase[m.rowid].append("memory id named in the request")
        if missing:
            notes.append(f"{missing} requested memory id(s) not found (never stored, or already erased)")
        for a in request.agents:
            for r in estore.rowids_for_agents(conn, [a]):
                erase[r].append(f"written by agent {a!r}")
        for ns in request.namespaces:
            for r in estore.rowids_for_namespaces(conn, [ns]):
                erase[r].append(f"in namespace {ns!r}")
        for i, mt in enumerate(matchers):
            if mt.fts_terms:
                for r in estore.fts_candidates(conn, mt.fts_terms):
                    found_by[i][r].add("full-text")
            for needle in mt.like_needles:
                for r in estore.like_candidates(conn, needle):
                    found_by[i][r].add("substring")
            for digits in mt.digit_needles:
                for r in estore.digit_candidates(conn, digits):
                    found_by[i][r].add("digits")
        field_hits = _field_hits(conn, matchers) if matchers else {}

    if any(mt.embed_text for mt in matchers):
        svc = memories()
        for i, mt in enumerate(matchers):
            if not mt.embed_text:
                continue
            qvec = svc.embed_query(mt.embed_text)  # type: ignore[attr-defined]
            for h in svc.index.search(qvec, VEC_CANDIDATES):  # type: ignore[attr-defined]
                cosine[i][h.rowid] = h.score
                found_by[i][h.rowid].add(f"meaning {h.score:.2f}")

    wanted = set(erase) | {r for fb in found_by for r in fb} | set(field_hits)
    with lock:
        rows = mstore.get_by_rowids(conn, sorted(wanted))

    for i, mt in enumerate(matchers):
        _match_subject(i, mt, {r: rows[r] for r in found_by[i] if r in rows}, found_by[i], cosine[i], erase, near, notes)

    redact = _apply_field_hits(field_hits, request.field_hits, erase, near)
    excluded = set(request.exclude_ids)
    for sel in (erase, redact):
        for r in list(sel):
            m = rows.get(r)
            if m is not None and m.id in excluded:
                near[r] = ["excluded by the request: kept", *sel.pop(r)]
    for r in erase:
        near.pop(r, None)
        redact.pop(r, None)
    for r in redact:
        near.pop(r, None)

    def items(sel: dict[int, list[str]]) -> tuple[PlanItem, ...]:
        ms = [rows[r] for r in sel if r in rows]
        ms.sort(key=lambda m: (m.created_at, m.rowid))
        return tuple(_item(m, sel[m.rowid], fields.get(m.rowid, ())) for m in ms)

    fields = {r: tuple(sorted({(f, v) for f, v, _, strong in hits if strong})) for r, hits in field_hits.items()}
    return ErasurePlan(request, items(erase), items(near), now, tuple(notes), redactions=items(redact))


# (field, value, "subject i (kind): rule", strong)
FieldHit = tuple[str, str, str, bool]


def _field_hits(conn: sqlite3.Connection, matchers: list[SubjectMatcher]) -> dict[int, list[FieldHit]]:
    """rowid -> hits of the subjects' rules in its metadata (tags, source, session, tool,
    kind, namespace, feedback notes). Distinct values are read, not rows; a value is only
    read by the rules when it contains one of the subject's look-up words (as the
    full-text and substring look-ups do for the text)."""
    out: dict[int, list[FieldHit]] = defaultdict(list)
    values = fstore.distinct_values(conn)
    for i, mt in enumerate(matchers):
        words = [w.lower() for w in (*mt.fts_terms, *mt.like_needles) if w]
        label = f"subject {i + 1} ({mt.kind})"
        for field, vals in values.items():
            hit_vals: dict[str, list[tuple[str, bool]]] = {}
            for v in vals:
                folded = fold(v).lower()
                digits = "".join(c for c in v if c.isdigit())
                if not (any(w in folded for w in words) or any(d in digits for d in mt.digit_needles)):
                    continue
                hits = mt.match(v)
                if hits:
                    strong = [h for h in hits if h.strong]
                    h = (strong or hits)[0]
                    hit_vals[v] = [(f"{label}: {h.label} in {field}", bool(strong))]
            if not hit_vals:
                continue
            for r, vs in fstore.rowids_for_values(conn, field, list(hit_vals)).items():
                for v in vs:
                    for why, strong in hit_vals[v]:
                        out[r].append((field, v, why, strong))
    return dict(out)


def _apply_field_hits(
    field_hits: dict[int, list[FieldHit]], action: str, erase: dict[int, list[str]], near: dict[int, list[str]]
) -> dict[int, list[str]]:
    """Metadata hits: a memory erased anyway notes them; a strong hit erases the memory
    (action 'erase', and always for a namespace name) or redacts the values ('redact');
    a weak one lists it as a near miss. Returns the memories to redact."""
    redact: dict[int, list[str]] = defaultdict(list)
    for r, hits in field_hits.items():
        strong = [h for h in hits if h[3]]
        if r in erase:
            erase[r] += [why for _, _, why, s in hits if s]
        elif strong and (action == "erase" or any(f not in fstore.REDACTABLE for f, *_ in strong)):
            erase[r] += [why for _, _, why, _ in strong]
        elif strong:
            redact[r] += [f"{why}: value removed, memory kept" for _, _, why, _ in strong]
        else:
            near[r] += [why for _, _, why, _ in hits]
    return redact


def _match_subject(
    i: int,
    mt: SubjectMatcher,
    cands: dict[int, Memory],
    found_by: dict[int, set[str]],
    cosine: dict[int, float],
    erase: dict[int, list[str]],
    near: dict[int, list[str]],
    notes: list[str],
) -> None:
    others: set[str] = set()
    for m in cands.values():
        others |= mt.other_givens(m.content)
    if others:
        notes.append(f"subject {i + 1}: the store also names {len(others)} other person(s) with the same initial "
                     "and surname; mentions by initial only are listed as near misses, not erased")
    label = f"subject {i + 1} ({mt.kind})"
    for r, m in cands.items():
        hits = mt.match(m.content, ambiguous_initial=bool(others))
        how = ", ".join(sorted(found_by.get(r, ())))
        strong = [h for h in hits if h.strong]
        weak = [h for h in hits if not h.strong]
        if strong:
            h = strong[0]
            more = f" (+{len(strong) - 1} more)" if len(strong) > 1 else ""
            erase[r].append(f"{label}: {h.label}{more}: “{h.snippet}” [found by {how}]")
        elif weak:
            h = weak[0]
            near[r].append(f"{label}: {h.label}: “{h.snippet}” [found by {how}]")
        elif cosine.get(r, 0.0) >= VEC_NEAR:
            near[r].append(f"{label}: close in meaning (cosine {cosine[r]:.2f}) but names no identifier of the subject")
