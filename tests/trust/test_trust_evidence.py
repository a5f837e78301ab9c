"""Evidence records: polarity, validation, no memory content, log round trip."""

from __future__ import annotations

import json

import pytest

from memoryd.errors import ValidationError
from memoryd.trust import POLARITY, Evidence, EvidenceKind, canonical_json, make_evidence, memory_and_agent

T = 1_700_000_000.0


def test_every_kind_has_a_polarity_and_the_named_kinds_exist():
    assert set(POLARITY) == set(EvidenceKind)
    for name in (
        "feedback_useful",
        "feedback_wrong",
        "feedback_harmful",
        "corroborated",
        "contradicts_trusted",
        "deleted_soon_after_write",
        "write_burst",
        "near_duplicate_flood",
        "injection_pattern",
        "self_corroboration_attempt",
    ):
        assert EvidenceKind(name).value == name
    assert POLARITY[EvidenceKind.FEEDBACK_USEFUL] == 1
    assert POLARITY[EvidenceKind.INJECTION_PATTERN] == -1


def test_make_evidence_takes_sign_from_kind_and_clamps_strength():
    good = make_evidence("corroborated", "memory", "m1", created_at=T, source_agent_id="b", strength=0.5)
    bad = make_evidence(EvidenceKind.FEEDBACK_HARMFUL, "agent", "a", created_at=T, strength=3.0)
    assert good.weight == 0.5 and good.kind is EvidenceKind.CORROBORATED
    assert bad.weight == -1.0 and bad.strength == 1.0


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(kind="injection_pattern", weight=0.5), "negative"),
        (dict(kind="feedback_useful", weight=-0.5), "positive"),
        (dict(weight=1.5), r"\[-1, 1\]"),
        (dict(weight=float("nan")), "finite"),
        (dict(subject_type="namespace"), "subject_type"),
        (dict(subject_id=""), "subject id"),
        (dict(kind="made_up"), "unknown evidence kind"),
        (dict(created_at=float("inf")), "created_at"),
        (dict(details={"content": "the secret note"}), "content"),
        (dict(details={"Query": "what is x"}), "content"),
        (dict(details={"why": "x" * 500}), "longer"),
        (dict(details={"nested": {"a": 1}}), "scalar"),
    ],
)
def test_invalid_evidence_is_refused(kw, msg):
    base = dict(
        kind="feedback_wrong",
        subject_type="memory",
        subject_id="m1",
        weight=-1.0,
        source_agent_id="b",
        created_at=T,
        details={},
    )
    base.update(kw)
    with pytest.raises(ValidationError, match=msg):
        Evidence(**base)


def test_record_round_trip_is_canonical_and_equal():
    ev = make_evidence(
        "injection_pattern",
        "memory",
        "m1",
        created_at=T,
        strength=0.9,
        details={"score": 0.9, "detector": "injection_pattern", "patterns": "ignore_previous"},
    )
    rec = ev.to_record()
    assert json.loads(canonical_json(rec)) == rec
    back = Evidence.from_record(json.loads(canonical_json(rec)))
    assert back == ev
    with pytest.raises(ValidationError, match="lacks"):
        Evidence.from_record({"kind": "write_burst"})


def test_details_are_read_only():
    ev = make_evidence("write_burst", "agent", "a", created_at=T, details={"n": 3})
    with pytest.raises(TypeError):
        ev.details["n"] = 4  # type: ignore[index]


def test_memory_and_agent_pair_points_the_agent_row_at_the_memory():
    mem, agent = memory_and_agent("query_stuffing", memory_id="m9", author_id="eve", created_at=T, strength=0.6)
    assert (mem.subject_type, mem.subject_id) == ("memory", "m9")
    assert (agent.subject_type, agent.subject_id) == ("agent", "eve")
    assert agent.details["memory_id"] == "m9" and "memory_id" not in mem.details
    assert mem.weight == agent.weight == -0.6
