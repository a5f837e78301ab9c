"""Model edits of an erasure run as a durable job outside the database lock (issue 15): a real
tiny model in the ledger, a real App on a real SQLite file, the edit held on an event."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from memoryd.app import App
from memoryd.erasure.models import ErasureRequest
from memoryd.errors import EditingError, NotFoundError
from memoryd.models import NewMemory
from memoryd.store import ledger as lstore

from .ledger_helpers import completes, files_under


def _db_files(settings) -> list[Path]:
    db = Path(settings.db_path)
    return [p for p in db.parent.iterdir() if p.is_file() and p.name.startswith(db.name)]


def test_recall_and_token_checks_go_on_while_the_edit_runs(app, adapted, settings):
    data, mems, out = adapted
    victim = next(m for m in mems if all(completes(out, m.content)))
    issued = app.agents.add("reader")
    held, release = threading.Event(), threading.Event()

    def hold(version_id: str) -> None:  # the edit job, on its own thread, waits here
        held.set()
        assert release.wait(120)

    app.models.jobs.before_edit = hold
    first = app.erasure.execute(ErasureRequest(memory_ids=(victim.id,)), confirm=True)
    try:
        assert held.wait(60)
        # committed, not yet verified: incomplete, listed as such, no sealed receipt
        assert first.body["status"] == "incomplete" and not first.ok and "model edit" in first.body["reason"]
        assert next(r for r in app.erasure.receipts() if r["id"] == first.id)["status"] == "incomplete"
        with pytest.raises(NotFoundError):
            app.erasure.receipt(first.id)
        # the old version holds the erased memory: not loadable until the edit is promoted
        with pytest.raises(EditingError, match="not loadable"):
            app.models.loadable_path(data["id"])
        shown = app.models.show(data["id"])
        assert shown["loadable"] is False and [j["state"] for j in shown["edit_jobs"]] == ["pending"]
        # the erased text is in the job file only: not in the database files
        (job_file,) = app.models.jobs.files()
        assert victim.content.encode() in job_file.read_bytes()
        assert not [f for f in _db_files(settings) if victim.content.encode() in f.read_bytes()]

        # another thread recalls, checks a token and writes while the edit is held
        got: dict = {}

        def other() -> None:
            got["hits"] = [h.memory.content for h in app.memories.search("staging cluster nodes")]
            got["agent"] = app.agents.verify(issued.token)
            got["wrote"] = app.memories.remember(NewMemory(content="Deploys happen on Tuesdays.", namespace="ops"))

        t = threading.Thread(target=other)
        t.start()
        t.join(30)
        assert not t.is_alive(), "a recall or token check stalled behind the model edit"
        assert got["agent"] == "reader" and "The staging cluster runs on three nodes." in got["hits"]
        assert got["wrote"].memory.id
    finally:
        release.set()
    assert app.models.wait_for_edits(120)

    receipt = app.erasure.receipt(first.id)  # sealed by the edit job once verified
    assert receipt.ok and receipt.body["status"] == "verified"
    notes = receipt.body["hooks"]["ledger"]
    assert notes["models_edited"] == 1 and notes["job_files"] == "shredded" and "pending" not in notes
    new_id = notes["edits"][0]["new_version"]
    assert app.models.loadable_path(new_id) == out.resolve()
    with pytest.raises(EditingError):
        app.models.loadable_path(data["id"])  # superseded for good, weights deleted
    assert app.models.show(data["id"])["status"] == "weights_deleted"
    assert not job_file.exists() and not app.models.jobs.files()
    assert not any(completes(out, victim.content))
    blobs = [f.read_bytes() for f in files_under(out, settings.home)]
    assert not [b for b in blobs if victim.content.encode() in b or victim.id.encode() in b]


def test_an_edit_left_pending_by_a_crash_is_resumed_by_the_next_app(app, adapted, settings, embedder):
    data, mems, out = adapted
    victim = mems[1]

    def crash(version_id: str) -> None:
        raise RuntimeError("simulated crash during the edit")

    app.models.jobs.before_edit = crash
    first = app.erasure.execute(ErasureRequest(memory_ids=(victim.id,)), confirm=True)
    assert app.models.wait_for_edits(60)
    assert first.body["status"] == "incomplete"
    (job,) = lstore.list_jobs(app.conn)
    assert job.state == "pending" and job.request_id == first.id and Path(job.file).is_file()
    app.close()

    with App(settings, embedder=embedder) as again:  # opening resumes the job on its own thread
        assert again.models.wait_for_edits(120)
        receipt = again.erasure.receipt(first.id)
        assert receipt.ok and receipt.body["hooks"]["ledger"]["models_edited"] == 1
        assert [j.state for j in lstore.list_jobs(again.conn)] == ["done"]
        assert [v["status"] for v in again.models.list()] == ["weights_deleted", "active"]
        assert not Path(job.file).exists()
        assert [p.name for p in out.parent.iterdir()] == [out.name]
        assert not any(completes(out, victim.content))


def test_models_resume_runs_a_pending_edit_from_the_cli(app, adapted, settings, embedder):
    import json

    from typer.testing import CliRunner

    from memoryd.cli import app as cli

    data, mems, out = adapted
    app.models.jobs.before_edit = lambda vid: (_ for _ in ()).throw(RuntimeError("simulated crash"))
    first = app.erasure.execute(ErasureRequest(memory_ids=(mems[2].id,)), confirm=True)
    assert app.models.wait_for_edits(60) and first.body["status"] == "incomplete"
    app.close()
    # the CLI's App resumes the job on open; `models resume` waits for it (or runs it itself)
    res = CliRunner().invoke(cli, ["--home", str(settings.home), "--db", str(settings.db_path),
                                   "models", "resume", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["jobs_pending"] == 0 and all(r["status"] == "verified" for r in data["receipts"])
    with App(settings, embedder=embedder) as again:
        assert again.erasure.receipt(first.id).ok


def test_an_erasure_during_a_running_edit_joins_it(app, adapted, settings):
    data, mems, out = adapted
    first_victim, second_victim = [m for m in mems if all(completes(out, m.content))][:2]
    held, release, calls = threading.Event(), threading.Event(), []

    def hold(version_id: str) -> None:
        calls.append(version_id)
        if len(calls) == 1:  # only the first attempt waits
            held.set()
            assert release.wait(120)

    app.models.jobs.before_edit = hold
    one = app.erasure.execute(ErasureRequest(memory_ids=(first_victim.id,)), confirm=True)
    assert held.wait(60)
    # a second erasure hits the version whose edit is running: a second job on the same version
    two = app.erasure.execute(ErasureRequest(memory_ids=(second_victim.id,)), confirm=True)
    assert one.body["status"] == two.body["status"] == "incomplete"
    assert [j["state"] for j in app.models.show(data["id"])["edit_jobs"]] == ["pending", "pending"]
    release.set()
    assert app.models.wait_for_edits(180)

    # the first edit was discarded and redone with both jobs' texts
    assert calls == [data["id"], data["id"]]
    receipts = [app.erasure.receipt(r.id) for r in (one, two)]
    assert all(r.ok for r in receipts)
    new_versions = {r.body["hooks"]["ledger"]["edits"][0]["new_version"] for r in receipts}
    assert len(new_versions) == 1  # one edit made the one new version
    assert [v["status"] for v in app.models.list()] == ["weights_deleted", "active"]
    assert not any(completes(out, first_victim.content)) and not any(completes(out, second_victim.content))
    assert [p.name for p in out.parent.iterdir()] == [out.name] and not app.models.jobs.files()


def test_cli_erase_waits_for_the_edit_and_prints_the_sealed_receipt(app, adapted, settings):
    import json

    from typer.testing import CliRunner

    from memoryd.cli import app as cli

    data, mems, out = adapted
    app.close()  # the CLI opens its own App on the same files
    res = CliRunner().invoke(cli, ["--home", str(settings.home), "--db", str(settings.db_path),
                                   "erase", "--id", mems[3].id, "--yes", "--json"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    assert body["status"] == "verified" and body["verification"]["ok"] and body["seal"]["seq"] >= 1
    assert body["hooks"]["ledger"]["models_edited"] == 1 and body["hooks"]["ledger"]["job_files"] == "shredded"
