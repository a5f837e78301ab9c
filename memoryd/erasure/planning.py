"""The dry run's judgement: which candidates a request erases, lists as near misses or
redacts, and why. Pure: the orchestration (services/erasure/planner.py) looks the
candidates up in the store and the vector index and hands them in.

Ids, agents and namespaces select exactly. A subject is looked up three ways — the full-text
index (surname, given name, joined user-name forms), a substring scan for phone numbers and
literal identifiers, and the vector index (memories close in meaning to the identifier) —
and every candidate is then *read* by the subject's rules (memoryd.erasure.subject): only
a strong rule erases; weak rules and meaning alone only list the memory as a near miss, so
a different person with a similar name is never erased without the operator seeing it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

from ..models import Memory
from .models import ErasurePlan, ErasureRequest, PlanItem
from .subject import SubjectMatcher, fold

__all__ = ["assemble_plan", "match_field_values", "collect_field_hits", "FieldHit", "VEC_CANDIDATES", "VEC_NEAR"]

VEC_CANDIDATES = 50  # nearest memories looked at per subject
VEC_NEAR = 0.55  # cosine above which a memory naming no identifier is listed as a near miss
PREVIEW = 120

# (field, value, "subject i (kind): rule", strong)
FieldHit = tuple[str, str, str, bool]
# field -> value -> [(why, strong)]
ValueHits = dict[str, dict[str, list[tuple[str, bool]]]]


def _preview(text: str) -> str:
    s = " ".join(text.split())
    return s if len(s) <= PREVIEW else s[: PREVIEW - 1] + "…"


def _item(m: Memory, reasons: list[str], fields: tuple[tuple[str, str], ...] = ()) -> PlanItem:
    return PlanItem(m.id, m.rowid, m.namespace, m.provenance.agent_id, m.created_at, _preview(m.content),
                    tuple(dict.fromkeys(reasons)), fields)


def assemble_plan(
    request: ErasureRequest,
    matchers: Sequence[SubjectMatcher],
    rows: Mapping[int, Memory],
    erase: dict[int, list[str]],
    found_by: Sequence[Mapping[int, set[str]]],
    cosine: Sequence[Mapping[int, float]],
    field_hits: Mapping[int, list[FieldHit]],
    *,
    redactable: Collection[str],
    notes: list[str],
    now: float,
    versions: Collection[tuple[int, int]] = (),
) -> ErasurePlan:
    """The plan from what the look-ups found: `erase` (rowid -> reasons) holds the exact
    selections (ids, agents, namespaces), `found_by`/`cosine` each subject's candidates,
    `field_hits` the metadata hits, `rows` every candidate's memory (and every version of
    it), `versions` the (old, new) supersede links of their version chains."""
    near: dict[int, list[str]] = defaultdict(list)
    for i, mt in enumerate(matchers):
        _match_subject(i, mt, {r: rows[r] for r in found_by[i] if r in rows}, found_by[i], cosine[i], erase, near, notes)

    redact = _apply_field_hits(field_hits, request.field_hits, erase, near, redactable)
    excluded = set(request.exclude_ids)
    for sel in (erase, redact):
        for r in list(sel):
            m = rows.get(r)
            if m is not None and m.id in excluded:
                near[r] = ["excluded by the request: kept", *sel.pop(r)]
    _add_versions(versions, rows, erase, near, excluded)
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


def _add_versions(
    links: Collection[tuple[int, int]], rows: Mapping[int, Memory], erase: dict[int, list[str]],
    near: dict[int, list[str]], excluded: Collection[str],
) -> None:
    """An erased memory's earlier versions are erased with it: they are its history, hold
    its earlier text and come back into search once it is deleted. Its newer versions are
    other texts: listed, kept. An excluded version is kept (and stops the walk there)."""
    older: dict[int, list[int]] = defaultdict(list)
    newer: dict[int, list[int]] = defaultdict(list)
    for old, new in links:
        older[new].append(old)
        newer[old].append(new)
    todo = list(erase)
    while todo:
        r = todo.pop()
        for o in older.get(r, ()):
            if o in erase or o not in rows:
                continue
            why = f"an earlier version of {rows[r].id} (superseded by it; back in search once it is deleted)"
            if rows[o].id in excluded:
                near[o] = near.get(o) or ["excluded by the request: kept"]
                near[o].append(why)
                continue
            erase[o].append(why)
            todo.append(o)
    for r in list(erase):
        for n in newer.get(r, ()):
            if n not in erase and n in rows:
                near[n].append(f"a newer version of {rows[r].id}: another text, kept (select it by id to erase it too)")


def match_field_values(matchers: Sequence[SubjectMatcher], values: Mapping[str, Sequence[str]]) -> list[ValueHits]:
    """Per subject: the metadata values (tags, source, session, tool, kind, namespace,
    feedback notes; distinct values, not rows) its rules hit. A value is only read by the
    rules when it contains one of the subject's look-up words (as the full-text and
    substring look-ups do for the text)."""
    out: list[ValueHits] = []
    for i, mt in enumerate(matchers):
        words = [w.lower() for w in (*mt.fts_terms, *mt.like_needles) if w]
        label = f"subject {i + 1} ({mt.kind})"
        per_field: ValueHits = {}
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
            if hit_vals:
                per_field[field] = hit_vals
        out.append(per_field)
    return out


def collect_field_hits(
    field: str, hit_vals: Mapping[str, list[tuple[str, bool]]], rows_by_value: Mapping[int, set[str]],
    out: dict[int, list[FieldHit]],
) -> None:
    """Add to `out` (rowid -> hits) the hits of one field, given which rows hold which value."""
    for r, vs in rows_by_value.items():
        for v in vs:
            for why, strong in hit_vals[v]:
                out.setdefault(r, []).append((field, v, why, strong))


def _apply_field_hits(
    field_hits: Mapping[int, list[FieldHit]], action: str, erase: dict[int, list[str]], near: dict[int, list[str]],
    redactable: Collection[str],
) -> dict[int, list[str]]:
    """Metadata hits: a memory erased anyway notes them; a strong hit erases the memory
    (action 'erase', and always for a namespace name) or redacts the values ('redact');
    a weak one lists it as a near miss. Returns the memories to redact."""
    redact: dict[int, list[str]] = defaultdict(list)
    for r, hits in field_hits.items():
        strong = [h for h in hits if h[3]]
        if r in erase:
            erase[r] += [why for _, _, why, s in hits if s]
        elif strong and (action == "erase" or any(f not in redactable for f, *_ in strong)):
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
    found_by: Mapping[int, set[str]],
    cosine: Mapping[int, float],
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
