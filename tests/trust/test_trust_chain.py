"""Keyed hash chain: every kind of tampering is caught; the key file is private."""

from __future__ import annotations

import os
import stat

import pytest

from memoryd.errors import TrustError
from memoryd.trust import (
    GENESIS_MAC,
    canonical_json,
    derive_key,
    load_or_create_key,
    make_evidence,
    seal,
    seal_all,
    verify_chain,
)

KEY = bytes(range(32))


def _log(n: int = 6, key: bytes = KEY) -> list[tuple[dict, str]]:
    recs = [
        make_evidence(
            "feedback_useful", "memory", f"m{i}", created_at=1_700_000_000.0 + i, source_agent_id="b"
        ).to_record()
        for i in range(n)
    ]
    return list(zip(recs, seal_all(recs, key), strict=True))


def test_intact_chain_verifies():
    log = _log()
    v = verify_chain(log, KEY)
    assert v.ok and v.first_bad_index is None and v.count == 6 and v.head == log[-1][1]
    v.raise_if_bad()


def test_seal_is_hmac_of_prev_mac_and_canonical_json():
    import hashlib
    import hmac

    rec = {"b": 1, "a": [1, 2, {"z": None}]}
    want = hmac.new(KEY, bytes.fromhex(GENESIS_MAC) + b'{"a":[1,2,{"z":null}],"b":1}', hashlib.sha256).hexdigest()
    assert seal(rec, None, KEY) == want
    assert seal({"a": [1, 2, {"z": None}], "b": 1}, GENESIS_MAC, KEY) == want  # key order irrelevant
    assert seal(rec, "11" * 32, KEY) != want  # chained to the previous MAC


def test_edited_record_is_detected_at_its_index():
    log = _log()
    rec, mac = log[3]
    log[3] = ({**rec, "weight": 1.0 if rec["weight"] != 1.0 else 0.5}, mac)
    v = verify_chain(log, KEY)
    assert not v.ok and v.first_bad_index == 3 and v.head == log[2][1]
    with pytest.raises(TrustError, match="record 3"):
        v.raise_if_bad()


def test_edited_details_are_detected():
    log = _log()
    rec, mac = log[1]
    log[1] = ({**rec, "details": {"note": "x"}}, mac)
    assert verify_chain(log, KEY).first_bad_index == 1


def test_deleted_record_is_detected_where_the_gap_is():
    log = _log()
    del log[2]
    v = verify_chain(log, KEY)
    assert not v.ok and v.first_bad_index == 2


def test_reordered_records_are_detected():
    log = _log()
    log[1], log[4] = log[4], log[1]
    assert verify_chain(log, KEY).first_bad_index == 1


def test_inserted_record_with_forged_mac_is_detected():
    log = _log()
    forged = make_evidence("corroborated", "memory", "m0", created_at=1.0, source_agent_id="mallory").to_record()
    log.insert(2, (forged, seal(forged, log[1][1], b"attacker-key-0000000000000000000")))
    assert verify_chain(log, KEY).first_bad_index == 2


def test_wrong_key_fails_at_the_first_record():
    v = verify_chain(_log(), bytes(32))
    assert not v.ok and v.first_bad_index == 0


def test_truncation_needs_the_recorded_head_or_count():
    log = _log()
    head = log[-1][1]
    assert verify_chain(log[:4], KEY).ok  # a chain alone cannot see a cut tail
    v = verify_chain(log[:4], KEY, expected_head=head)
    assert not v.ok and v.first_bad_index == 4
    assert not verify_chain(log[:4], KEY, expected_count=6).ok
    assert verify_chain(log, KEY, expected_head=head, expected_count=6).ok


def test_resume_from_a_checkpoint():
    log = _log()
    assert verify_chain(log[3:], KEY, start_mac=log[2][1]).ok
    assert not verify_chain(log[3:], KEY).ok


def test_canonical_json_refuses_non_json():
    with pytest.raises(TrustError):
        canonical_json({"x": float("nan")})
    with pytest.raises(TrustError):
        canonical_json({"x": object()})
    assert canonical_json({"é": 1}) == '{"é":1}'.encode()


def test_malformed_entries_and_keys():
    assert verify_chain([("not a pair",)], KEY).first_bad_index == 0  # type: ignore[list-item]
    with pytest.raises(TrustError):
        seal({}, None, b"short")
    with pytest.raises(TrustError):
        seal({}, "zz", KEY)


def test_derived_keys_separate_logs():
    a, b = derive_key(KEY, "trust-evidence"), derive_key(KEY, "erasure-audit")
    assert a != b and len(a) == 32
    recs = [{"i": 1}]
    assert not verify_chain(list(zip(recs, seal_all(recs, a), strict=True)), b).ok


def test_key_file_is_created_private_and_stable(tmp_path):
    path = tmp_path / "home" / "memoryd.key"
    k1 = load_or_create_key(path)
    assert len(k1) == 32 and path.read_bytes() == k1
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key(path) == k1
    assert [p.name for p in path.parent.iterdir()] == ["memoryd.key"]  # no temp file left
    assert load_or_create_key(tmp_path / "other.key") != k1


def test_key_file_problems_are_refused(tmp_path):
    short = tmp_path / "short.key"
    short.write_bytes(b"abc")
    short.chmod(0o600)
    with pytest.raises(TrustError, match="32 bytes"):
        load_or_create_key(short)
    loose = tmp_path / "loose.key"
    loose.write_bytes(os.urandom(32))
    loose.chmod(0o644)
    with pytest.raises(TrustError, match="chmod 600"):
        load_or_create_key(loose)
    good = tmp_path / "good.key"
    load_or_create_key(good)
    link = tmp_path / "link.key"
    link.symlink_to(good)
    with pytest.raises(TrustError):
        load_or_create_key(link)


def test_canonical_json_survives_a_store_round_trip():
    """The store may keep the record as JSON text: re-serialising what it reads back must
    give the same bytes (floats, unicode, nesting), or verification would fail spuriously."""
    import json

    rec = make_evidence(
        "query_stuffing",
        "memory",
        "01HX-é",
        created_at=1_700_000_000.123456,
        strength=0.1 + 0.2,
        details={"score": 1 / 3, "patterns": "question_restated", "n": 3, "flag": True, "none": None},
    ).to_record()
    raw = canonical_json(rec)
    assert canonical_json(json.loads(raw)) == raw
    assert verify_chain([(json.loads(raw), seal(rec, None, KEY))], KEY).ok
