"""Subject matching: variants are found, other people are not erased (only listed)."""

from __future__ import annotations

import pytest
from erasure_helpers import seed

from memoryd.erasure.models import ErasureRequest
from memoryd.erasure.subject import parse_subject
from memoryd.errors import ValidationError


@pytest.mark.parametrize("text", [
    "Met Alice Novak yesterday", "alice novak likes tea", "ALICE NOVÁK", "Alice M. Novak",
    "A. Novak signed", "Novak, Alice called", "Novák A. wrote", "ping anovak", "anovak92 pushed",
    "mail alice.novak@example.com", "novak_alice joined", "Alice Novak's laptop",
])
def test_name_variants_are_strong(text):
    m = parse_subject("Alice Novák")
    assert any(h.strong for h in m.match(text)), [(h.label, h.strong) for h in m.match(text)]


@pytest.mark.parametrize("text", [
    "Ben Novak owns billing", "Alicia Novak from legal", "A Novak family moved in", "Alice met Novak",
    "the novakova report", "xanovak", "Alice Smith and Tom Novak",
])
def test_other_people_are_not_strong(text):
    m = parse_subject("Alice Novák")
    assert not any(h.strong for h in m.match(text)), [(h.label, h.strong) for h in m.match(text)]


def test_identifier_kinds_and_normal_forms():
    assert parse_subject("Novak, Alice").normalized() == parse_subject("alice  NOVÁK").normalized()
    assert parse_subject("alice.novak@example.com").kind == "email"
    assert parse_subject("@anovak").kind == "handle"
    assert parse_subject("+44 20 7946 0958").kind == "phone"
    assert parse_subject("CUST-88231").kind == "identifier"
    with pytest.raises(ValidationError):
        parse_subject("   ")


@pytest.mark.parametrize("ident,text,strong", [
    ("alice.novak@example.com", "write to Alice.Novak@Example.com", True),
    ("alice.novak@example.com", "her other mailbox alice.novak@gmail.com", True),
    ("alice.novak@example.com", "@alice.novak on slack", True),
    ("alice.novak@example.com", "A. Novak from the email thread", True),  # name spelled by the address
    ("info@example.com", "write to info@example.org", False),  # generic mailbox names are not a person
    ("@anovak", "cc @anovak please", True),
    ("@anovak", "anovak approved", True),
    ("@jo", "jo said", False),  # a short bare handle is only a near miss
    ("+44 20 7946 0958", "call +44 (0)20 7946 0958", True),
    ("+44 20 7946 0958", "020 7946 0958", True),
    ("+44 20 7946 0958", "44 20 7946 0959", False),
    ("CUST-88231", "ticket cust-88231 reopened", True),
    ("CUST-88231", "ticket CUST-882310", False),
])
def test_other_identifier_kinds(ident, text, strong):
    assert any(h.strong for h in parse_subject(ident).match(text)) is strong


def test_plan_finds_every_variant_and_only_lists_the_namesake(app):
    s = seed(app, corpus=10)
    plan = app.erasure.plan(ErasureRequest(subjects=("Alice Novák",)))
    assert set(plan.memory_ids) == set(s.alice)
    assert s.ben[0] in {i.memory_id for i in plan.near_misses}  # listed, not erased
    for item in plan.items:
        assert item.reasons and item.reasons[0].startswith("subject 1 (name)")
    by_email = app.erasure.plan(ErasureRequest(subjects=("alice.novak@example.com",)))
    assert set(by_email.memory_ids) == set(s.alice)
    by_handle = app.erasure.plan(ErasureRequest(subjects=("@anovak",)))
    assert len(by_handle.memory_ids) == 1
    by_phone = app.erasure.plan(ErasureRequest(subjects=("+420 601 555 873",)))
    assert by_phone.memory_ids == (s.alice[0],)


def test_ambiguous_initial_is_not_erased_and_exclusions_are_kept(app):
    s = seed(app, corpus=0, alicia=True)  # "Alicia Novak" shares the initial A. with Alice
    plan = app.erasure.plan(ErasureRequest(subjects=("Alice Novak",)))
    a_dot = s.alice[1]  # "Met A. Novak at the Plumbrix kickoff"
    assert a_dot not in plan.memory_ids and set(plan.memory_ids) == set(s.alice) - {a_dot}
    near = {i.memory_id: i.reasons for i in plan.near_misses}
    assert a_dot in near and s.alicia[0] in near and s.ben[0] in near
    assert any("initial" in n for n in plan.notes)
    kept = app.erasure.plan(ErasureRequest(subjects=("Alice Novak",), exclude_ids=(s.alice[0],)))
    assert s.alice[0] not in kept.memory_ids
    assert "excluded by the request: kept" in {i.memory_id: i.reasons for i in kept.near_misses}[s.alice[0]]
    r = app.erasure.execute(kept, confirm=True)
    assert r.body["counts"]["memories"] == 3
    assert app.memories.get(s.alice[0]) and app.memories.get(s.alicia[0]) and app.memories.get(a_dot)
