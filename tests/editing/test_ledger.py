"""The model ledger through the real App: adapt on memories, erase one with the erasure
service, and check the receipt, the files on disk and what the new model still completes."""

from __future__ import annotations

from pathlib import Path

import pytest

from memoryd.editing.adapt import AdaptConfig
from memoryd.editing.prompts import fact_probes
from memoryd.erasure.models import ErasureRequest
from memoryd.store import ledger as lstore

from .ledger_helpers import completes as _completes, files_under as _files


def test_adapt_records_version_and_absorbed_memories(app, adapted):
    data, mems, out = adapted
    assert data["status"] == "active" and data["method"] == "adapt-full" and data["path"] == str(out.resolve())
    assert {a["memory_id"] for a in data["absorbed"]} == {m.id for m in mems}
    assert all(a["memory"] == "present" for a in data["absorbed"])
    assert sum(a["reproduced"] for a in data["absorbed"]) >= 3
    # a plain forget would leave an absorbed memory in the weights: refused, erase instead
    from memoryd.errors import ValidationError

    with pytest.raises(ValidationError, match="erase it instead"):
        app.models.guard_forget([mems[0].id])
    app.models.guard_forget(["01ZZZZZZZZZZZZZZZZZZZZZZZZ"])  # nothing absorbed it: fine
    assert [v["id"] for v in app.models.list()] == [data["id"]]
    assert app.models.list()[0]["absorbed"] == 4
    # the ledger holds keyed MACs, never the content or its plain hash
    row = lstore.absorbed(app.conn, data["id"])[0]
    mem = next(m for m in mems if m.id == row.memory_id)
    assert row.content_mac == app.models.content_mac(mem.id, mem.content) and row.content_mac not in mem.content_hash


def test_erasure_edits_the_model_and_deletes_the_old_weights(app, adapted, settings):
    data, mems, out = adapted
    reproduced = [a["memory_id"] for a in data["absorbed"] if a["reproduced"]]
    victim = next(m for m in mems if m.id == reproduced[0])
    keeper = next(m for m in mems if m.id == reproduced[1])
    assert all(_completes(out, victim.content)) and all(_completes(out, keeper.content))
    old_weights = (out / "model.safetensors").read_bytes()

    first = app.erasure.execute(ErasureRequest(memory_ids=(victim.id,)), confirm=True)
    # the edit runs after the commit, outside the lock: until it is verified the request is incomplete
    assert first.body["status"] == "incomplete" and not first.ok
    assert app.models.wait_for_edits(120)
    receipt = app.erasure.receipt(first.id)

    # the receipt records the edit, its verification and the deletion of the old weights
    assert receipt.ok, receipt.body["verification"]
    notes = receipt.body["hooks"]["ledger"]
    assert notes["models_edited"] == 1 and notes["models_withdrawn"] == 0
    assert notes["weights_deleted"] == 1 and notes["old_weight_files_remaining"] == 0
    (edit,) = notes["edits"]
    v = edit["verification"]
    assert edit["outcome"] == "edited" and edit["old_version"] == data["id"]
    assert v["erased"] and v["forget_exact_before"] == 1.0 and v["forget_exact_after"] == 0.0
    assert v["forget_rouge_l_after"] <= 0.2 and v["retain_ratio"] >= 0.9
    assert v["perplexity_after"] > 0
    assert receipt.body["counts"]["ledger.edit_jobs"] == 1  # counted in the delete transaction; edited after
    assert receipt.body["counts"]["ledger.absorbed_rows"] == 1
    hook_files = [f for f in receipt.body["verification"]["content_scan"]["per_file"] if f["file"] == "hook:ledger"]
    assert hook_files and all(f["hits"] == 0 for f in hook_files)  # the model files were scanned

    # the ledger: old version's weights deleted, new version active at the same path, no erased id left
    old, new = app.models.show(data["id"]), app.models.show(edit["new_version"])
    assert old["status"] == "weights_deleted" and new["status"] == "active" and new["method"] == "stamp"
    assert new["parent_id"] == data["id"] and new["path"] == data["path"] and new["staging_path"] is None
    assert victim.id not in {a["memory_id"] for a in new["absorbed"] + old["absorbed"]}
    assert {a["memory_id"] for a in new["absorbed"]} == {m.id for m in mems} - {victim.id}
    assert new["edits"][0]["request_id"] == receipt.id
    assert not [p for p in out.parent.iterdir() if p.name != out.name]  # no staging or superseded dirs
    assert notes["edit_jobs"] == 1 and notes["job_files"] == "shredded" and not app.models.jobs.files()
    assert (out / "model.safetensors").read_bytes() != old_weights

    # the new model no longer completes the erased fact; an unrelated memorised one still completes
    assert not any(_completes(out, victim.content))
    assert all(_completes(out, keeper.content))

    # raw bytes: neither the model files nor the database hold the erased text or its id
    needles = [victim.content.encode(), victim.id.encode()] + [
        p.answer.encode() for p in fact_probes(victim.content) if "@" in p.answer]
    db = Path(settings.db_path)
    for f in _files(out, *[p for p in db.parent.iterdir() if p.name.startswith(db.name)]):
        blob = f.read_bytes()
        assert not [n for n in needles if n in blob], f


def test_crash_before_commit_leaves_nothing_and_resume_finishes(app, adapted):
    data, mems, out = adapted
    victim = mems[0]

    def crash(step: str) -> None:
        if step == "delete.before_commit":
            raise RuntimeError("simulated crash")

    app.erasure.on_step = crash
    with pytest.raises(RuntimeError):
        app.erasure.execute(ErasureRequest(memory_ids=(victim.id,)), confirm=True)
    app.erasure.on_step = None
    # rolled back: the memory, the ledger row and the old weights are all still there
    assert app.memories.get(victim.id).content == victim.content
    assert app.models.show(data["id"])["status"] == "active" and app.models.show(data["id"])["loadable"]
    (orphan,) = app.models.jobs.files()  # the job file written inside the rolled-back transaction
    assert victim.content.encode() in orphan.read_bytes()
    (first,) = app.erasure.resume_pending()
    assert first.body["status"] == "incomplete" and not orphan.exists()  # orphan shredded
    assert app.models.wait_for_edits(120)
    receipt = app.erasure.receipt(first.id)
    assert receipt.ok and receipt.body["hooks"]["ledger"]["models_edited"] == 1
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # old weights gone
    assert [v["status"] for v in app.models.list()] == ["weights_deleted", "active"]


def test_crash_after_commit_is_promoted_on_resume(app, adapted):
    data, mems, out = adapted
    victim = mems[1]

    def crash(step: str) -> None:
        if step == "delete.committed":
            raise RuntimeError("simulated crash")

    app.erasure.on_step = crash
    with pytest.raises(RuntimeError):
        app.erasure.execute(ErasureRequest(memory_ids=(victim.id,)), confirm=True)
    app.erasure.on_step = None
    # committed: the edit job is recorded, the old version is not loadable, its weights wait
    versions = app.models.list()
    assert [v["status"] for v in versions] == ["superseded"]
    assert [j["state"] for j in app.models.show(data["id"])["edit_jobs"]] == ["pending"]
    (first,) = app.erasure.resume_pending()
    assert first.body["status"] == "incomplete"
    assert app.models.wait_for_edits(120)
    receipt = app.erasure.receipt(first.id)
    assert receipt.ok
    notes = receipt.body["hooks"]["ledger"]
    assert notes["versions_promoted"] == 1 and notes["old_weight_files_remaining"] == 0
    assert [v["status"] for v in app.models.list()] == ["weights_deleted", "active"]
    assert [p.name for p in out.parent.iterdir()] == [out.name]
    assert not any(_completes(out, victim.content))


def test_memories_erased_while_adapting_do_not_leave_a_model(app, adapted, tmp_path):
    from memoryd.errors import EditingError

    data, mems, out = adapted
    erased = []

    def erase_meanwhile(stage: str, done: int, total: int) -> None:
        if not erased:  # an erasure request arrives while the second model trains
            erased.append(app.erasure.execute(ErasureRequest(memory_ids=(mems[2].id,)), confirm=True))

    with pytest.raises(EditingError, match="adapt again"):
        app.models.adapt(out, tmp_path / "second", namespace="people",
                         config=AdaptConfig(max_epochs=2, check_absorbed=False), progress=erase_meanwhile)
    assert erased and app.models.wait_for_edits(120)
    sealed = app.erasure.receipt(erased[0].id)
    assert sealed.ok, [f for f in sealed.body["verification"]["content_scan"]["per_file"] if f["hits"]]
    assert not (tmp_path / "second").exists()
    assert [v["status"] for v in app.models.list()] == ["weights_deleted", "active"]
