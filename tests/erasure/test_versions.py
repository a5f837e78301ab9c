"""Erasing a memory that has versions (`memoryd update`, `remember(supersedes=)`).

A superseded version stays stored, out of search, and comes back into search when the newer
version is deleted. So erasing the newest version by id must erase the earlier ones too (they
are the same memory's history and hold its earlier text), and the dry run must say so. A
newer version of an erased memory is a different text: it is listed, not erased.
"""

from __future__ import annotations

import pytest
from erasure_helpers import raw_hits

from memoryd.erasure.models import ErasureRequest
from memoryd.errors import NotFoundError
from memoryd.models import NewMemory, Provenance

V1 = "Kestrel Vandamire's phone is 555-0142, ticket PHXOLD8812"
V2 = "The support phone changed to 555-0199, ticket PHXMID8813"
V3 = "Support line moved again, ticket PHXNEW8814"
OTHER = "The staging database listens on port 6432 behind pgbouncer"


def _chain(app):
    prov = Provenance(agent_id="tester")
    app.memories.remember(NewMemory(OTHER, provenance=prov))
    v1 = app.memories.remember(NewMemory(V1, provenance=prov)).memory.id
    v2 = app.memories.remember(NewMemory(V2, provenance=prov), supersedes=v1).memory.id
    v3 = app.memories.remember(NewMemory(V3, provenance=prov), supersedes=v2).memory.id
    return v1, v2, v3


def test_erasing_the_newest_version_erases_the_earlier_ones(app, settings):
    v1, v2, v3 = _chain(app)
    plan = app.erasure.plan(ErasureRequest(memory_ids=(v3,)))
    assert {i.memory_id for i in plan.items} == {v1, v2, v3}
    why = {i.memory_id: " ".join(i.reasons) for i in plan.items}
    assert "earlier version" in why[v1] and "earlier version" in why[v2]

    receipt = app.erasure.execute(plan, confirm=True)
    assert receipt.ok and receipt.body["status"] == "verified"
    assert receipt.body["counts"]["memories"] == 3
    for mid in (v1, v2, v3):
        with pytest.raises(NotFoundError):
            app.memories.get(mid)
    hits = app.memories.search("support phone ticket")
    assert all("PHX" not in h.memory.content for h in hits)
    assert raw_hits(settings, ["PHXOLD8812", "PHXMID8813", "PHXNEW8814", "Vandamire", "555-0142", v1, v2, v3]) == {}
    assert raw_hits(settings, ["pgbouncer"])  # the scan reads the files: a surviving memory is there


def test_erasing_an_old_version_lists_the_newer_one_and_keeps_it(app, settings):
    v1, v2, v3 = _chain(app)
    plan = app.erasure.plan(ErasureRequest(memory_ids=(v1,)))
    assert [i.memory_id for i in plan.items] == [v1]
    near = {i.memory_id: " ".join(i.reasons) for i in plan.near_misses}
    assert "newer version" in near[v2]
    receipt = app.erasure.execute(plan, confirm=True)
    assert receipt.ok and receipt.body["status"] == "verified"
    assert raw_hits(settings, ["PHXOLD8812", "Vandamire"]) == {}
    assert raw_hits(settings, ["PHXMID8813", "PHXNEW8814"])


def test_an_excluded_earlier_version_is_kept(app):
    v1, v2, v3 = _chain(app)
    plan = app.erasure.plan(ErasureRequest(memory_ids=(v3,), exclude_ids=(v1,)))
    assert {i.memory_id for i in plan.items} == {v2, v3}
    assert v1 in {i.memory_id for i in plan.near_misses}
