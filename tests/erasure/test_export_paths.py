"""A file memoryd keeps rewriting (a registered export) whose *name* names the data subject.

Found by driving the export: `export --out grizelda-vonnstrup-backup.jsonl`, then an erasure
of "Grizelda Vonnstrup" rewrote the file without her memory and sealed a verified receipt,
but the database still held her name: the registry (`export_files.path`) must keep the path
to rewrite the file at the next erasure, and the forensic scan treats registered paths as
legitimate. memoryd cannot rename the operator's file, so this stays (docs/erasure.md,
"Every file"); the dry run now says so, without quoting the path.
"""

from __future__ import annotations

from erasure_helpers import raw_hits

from memoryd.erasure.models import ErasureRequest
from memoryd.models import NewMemory
from memoryd.services.porting import export_jsonl


def test_the_dry_run_notes_a_registered_file_named_after_the_subject(app, settings, tmp_path):
    app.memories.remember(NewMemory("The staging database listens on port 6432 behind pgbouncer"))
    app.memories.remember(NewMemory("Grizelda Vonnstrup signed the lease for unit 4B"))
    export_jsonl(app, tmp_path / "weekly.jsonl")
    plan = app.erasure.plan(ErasureRequest(subjects=("Grizelda Vonnstrup",)))
    assert not any("registered file" in n for n in plan.notes)

    export_jsonl(app, tmp_path / "grizelda-vonnstrup-backup.jsonl")
    plan = app.erasure.plan(ErasureRequest(subjects=("Grizelda Vonnstrup",)))
    note = [n for n in plan.notes if "registered file" in n]
    assert len(note) == 1 and "grizelda" not in note[0].lower()
    assert app.erasure.execute(plan, confirm=True).ok
    assert raw_hits(settings, ["Grizelda Vonnstrup signed"]) == {}
    # the documented residue: the path, as long as the file exists and stays registered
    assert raw_hits(settings, ["grizelda-vonnstrup-backup"])
