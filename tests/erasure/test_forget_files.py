"""`forget` (CLI `memoryd forget`, MCP `forget`, the UI's forget) and the files memoryd wrote.

Found by driving the CLI: `memoryd export --out F`, `memoryd graph export --out G`,
`memoryd subject export --out S`, then `memoryd forget ID` left the forgotten memory's text
and id in all three files, although docs/erasure.md promised forget leaves no byte of it
and these files are registered precisely so that deletes reach them. Now forget rewrites
the registered files too (as an erasure does, without a receipt).
"""

from __future__ import annotations

from memoryd.models import NewMemory, Provenance
from memoryd.services.porting import export_jsonl

GONE = "Forgettable note FGTEXP3131 about Harlowen Quist"
KEPT = "The staging database listens on port 6432 behind pgbouncer"


def test_forget_rewrites_the_exports_memoryd_wrote(app, tmp_path):
    prov = Provenance(agent_id="tester")
    kept = app.memories.remember(NewMemory(KEPT, provenance=prov)).memory.id
    gone = app.memories.remember(NewMemory(GONE, provenance=prov)).memory.id
    app.graph.rebuild()
    out = tmp_path / "outside"
    out.mkdir()
    export_jsonl(app, out / "all.jsonl")
    app.erasure.track_file(out / "graph.json", "graph-json", lambda: app.graph.export(out / "graph.json", "json"))
    app.erasure.subject_export(["Harlowen Quist"], out=out / "subject.json")
    files = [out / "all.jsonl", out / "graph.json", out / "subject.json"]
    assert all(gone.encode() in p.read_bytes() for p in files)
    epoch = app.erasure.epoch()

    app.forgetting.forget([gone])

    for p in files:
        raw = p.read_bytes() if p.exists() else b""
        for needle in (gone, "FGTEXP3131", "Harlowen"):
            assert needle.encode() not in raw and needle.lower().encode() not in raw, (p.name, needle)
    assert kept.encode() in (out / "all.jsonl").read_bytes()  # the rest of the export is still there
    assert kept.encode() in (out / "graph.json").read_bytes()
    assert not (out / "subject.json").exists()  # nothing about the subject is left: shredded
    assert app.erasure.epoch() > epoch  # an export written meanwhile writes itself again


def test_forget_without_registered_files_writes_none(app, tmp_path):
    mid = app.memories.remember(NewMemory(GONE)).memory.id
    app.forgetting.forget([mid])
    assert list(tmp_path.rglob("*.jsonl")) == []


def test_forget_from_the_web_ui_rewrites_them_too(app, tmp_path):
    """The UI's forget is the same use case (ForgetService), not a delete of its own."""
    from starlette.testclient import TestClient

    from memoryd.ui import create_ui_app, load_or_create_token
    from memoryd.ui.auth import UIAuth

    app.memories.remember(NewMemory(KEPT))
    gone = app.memories.remember(NewMemory(GONE)).memory.id
    export = tmp_path / "all.jsonl"
    export_jsonl(app, export)
    assert gone.encode() in export.read_bytes()

    base = "http://127.0.0.1:8766"
    token = load_or_create_token(app.settings.home)
    c = TestClient(create_ui_app(app, token), base_url=base)
    r = c.get(f"/ui/?token={token}", follow_redirects=False)
    name = UIAuth(token).cookie
    c.cookies.set(name, r.cookies[name], path="/ui")
    r = c.post(f"/ui/memory/{gone}/forget", data={"confirm": "yes", "csrf": UIAuth(token).csrf},
               headers={"origin": base}, follow_redirects=False)
    assert r.status_code == 200 and "Forgotten" in r.text, r.text

    raw = export.read_bytes()
    assert gone.encode() not in raw and b"FGTEXP3131" not in raw
    assert b"pgbouncer" in raw
