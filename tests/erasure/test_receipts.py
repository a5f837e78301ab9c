"""The audit chain of receipts: verification, tamper detection, readable report, CLI."""

from __future__ import annotations

import json

import pytest
from erasure_helpers import seed
from typer.testing import CliRunner

from memoryd.app import App
from memoryd.cli import app as cli
from memoryd.erasure.models import ErasureRequest
from memoryd.errors import NotFoundError


def _three_receipts(app):
    s = seed(app, corpus=4)
    rs = [app.erasure.execute(ErasureRequest(memory_ids=(i,)), confirm=True) for i in s.corpus[:2]]
    rs.append(app.erasure.execute(ErasureRequest(subjects=("Alice Novak",)), confirm=True))
    return s, rs


def test_verify_ok_then_one_edited_byte_breaks_it(app):
    _, rs = _three_receipts(app)
    for r in rs:
        v = app.erasure.verify(r.id)
        assert v.ok and v.chain_ok and v.receipt_mac_ok and v.head_ok and v.chain_count == 3
        assert v.rows_remaining == 0 and v.id_scan["hits"] == 0
    body = app.conn.execute("SELECT body FROM audit_log WHERE seq = 2").fetchone()[0]
    i = body.index('"memories":1') + len('"memories":')
    forged = body[:i] + "0" + body[i + 1:]  # one byte: claim nothing was erased
    app.conn.execute("UPDATE audit_log SET body = ? WHERE seq = 2", (forged,))
    v = app.erasure.verify(rs[1].id)
    assert not v.ok and not v.chain_ok and v.chain_first_bad_index == 1 and not v.receipt_mac_ok
    assert app.erasure.verify(rs[0].id, scan=False).receipt_mac_ok  # the record before is fine...
    assert not app.erasure.verify(rs[0].id, scan=False).ok  # ...but the log as a whole is not
    app.conn.execute("UPDATE audit_log SET body = ? WHERE seq = 2", (body,))
    assert app.erasure.verify(rs[1].id, scan=False).ok


def test_raw_file_tamper_and_truncation_are_detected(settings, embedder):
    with App(settings, embedder=embedder) as a:  # closing checkpoints the WAL into the file
        _, rs = _three_receipts(a)
    salt = rs[0].body["salt"]
    db = settings.db_path
    good = db.read_bytes()
    at = good.find(salt.encode())
    assert at > 0
    bad = bytearray(good)
    bad[at] = ord("0") if bad[at] != ord("0") else ord("1")  # flip one hex digit in the file
    db.write_bytes(bytes(bad))
    with App(settings, embedder=embedder) as a:
        v = a.erasure.verify(rs[0].id, scan=False)
        assert not v.ok and not v.receipt_mac_ok and v.chain_first_bad_index == 0
    db.write_bytes(good)
    with App(settings, embedder=embedder) as a:
        assert a.erasure.verify(rs[0].id, scan=False).ok
        a.conn.execute("DELETE FROM audit_log WHERE seq = 3")  # cut the last record off
        v = a.erasure.verify(rs[0].id, scan=False)
        assert not v.ok and not v.chain_ok and "expected 3 records" in v.chain_reason


def test_wrong_key_fails(app, settings):
    _, rs = _three_receipts(app)
    key = settings.key_path
    key.write_bytes(bytes(32))
    app._master_key = None  # forget the cached key (the App owns it)
    assert not app.erasure.verify(rs[0].id, scan=False).ok


def test_unknown_receipt(app):
    with pytest.raises(NotFoundError):
        app.erasure.receipt("nope")
    with pytest.raises(NotFoundError):
        app.erasure.verify("nope")


def test_cli_dry_run_yes_receipts_report_verify_and_subject_export(tmp_path, embedder):
    runner = CliRunner()
    home = tmp_path / "home"

    def run(*args):
        return runner.invoke(cli, ["--home", str(home), *args])

    for t in ("Zora Kettleby booked flight XK4411 to Lisbon", "Ben Kettleby runs the billing worker",
              "zkettleby opened PR 77"):
        assert run("add", t).exit_code == 0
    out = tmp_path / "zora.json"
    r = run("subject", "export", "-s", "Zora Kettleby", "--out", str(out), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["exported"] == 2
    assert {m["content"] for m in json.loads(out.read_text())["memories"]} >= {"zkettleby opened PR 77"}
    dry = run("erase", "-s", "Zora Kettleby", "--json")
    assert dry.exit_code == 0
    d = json.loads(dry.stdout)
    assert d["dry_run"] and d["would_erase"] == 2 and len(d["near_misses"]) == 1
    assert run("stats", "--json").stdout.count('"memories": 3') == 1
    done = run("erase", "-s", "Zora Kettleby", "--yes", "--json")
    assert done.exit_code == 0, done.output
    rid = json.loads(done.stdout)["id"]
    assert not out.exists()  # the subject export was destroyed with the data
    lst = json.loads(run("erase", "receipts", "--json").stdout)
    assert [x["id"] for x in lst] == [rid] and lst[0]["verified"] is True
    text = run("erase", "receipt", rid).stdout
    assert "VERIFIED" in text and "Zora" not in text and "Kettleby" not in text and "XK4411" not in text
    assert json.loads(run("erase", "receipt", rid, "--format", "json").stdout)["id"] == rid
    v = run("erase", "verify", rid, "--subject", "kettleby, zora", "--json")
    assert v.exit_code == 0 and json.loads(v.stdout)["subject_in_scope"] is True
    assert run("erase", "verify", "nope").exit_code == 4
    assert run("erase", "--id", "x").exit_code == 0  # dry run of an unknown id: nothing to do
