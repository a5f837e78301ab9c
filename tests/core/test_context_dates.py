"""The context the hooks inject says when each memory happened: an agent asked "when did X?"
from a logged conversation has only this text to answer from."""

from __future__ import annotations

from datetime import datetime, timezone

from memoryd.models import NewMemory, Provenance
from memoryd.services.context import build_context


def _ts(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp()


def test_each_context_line_carries_its_date(app):
    turns = [("2023-05-08T13:56:00", "Caroline: I went to an LGBTQ support group yesterday and it was powerful."),
             ("2023-06-27T10:00:00", "Melanie: We went camping at the lake with the kids last weekend.")]
    ids = {}
    for when, text in turns:
        m = app.memories.remember(NewMemory(text, namespace="chat", created_at=_ts(when),
                                            provenance=Provenance(agent_id="chat", session_id="c/S1"))).memory
        ids[m.id] = when[:10]
    got = build_context(app, prompt="When did Caroline go to the LGBTQ support group?", namespaces=("chat",))
    lines = [ln for ln in got.text.splitlines() if ln.startswith("- ")]
    assert len(lines) == 2
    for line in lines:
        mid = line.rsplit("(id ", 1)[1].split(",")[0].rstrip(")")
        assert line.endswith(f"(id {mid}, {ids[mid]})"), line
    assert "LGBTQ" in lines[0] and lines[0].endswith("2023-05-08)")
    start = build_context(app, prompt=None, namespaces=("chat",))  # the session-start selection too
    assert "2023-06-27)" in start.text and "2023-05-08)" in start.text


def test_cli_search_shows_when(run, tmp_path):
    import json

    src = tmp_path / "turns.jsonl"
    src.write_text(json.dumps({"content": "Caroline: I went to an LGBTQ support group yesterday.",
                               "created_at": _ts("2023-05-08T13:56:00")}) + "\n")
    assert run("add", "--jsonl", str(src)).exit_code == 0
    res = run("search", "when did Caroline go to the support group?")
    assert res.exit_code == 0 and "2023-05-08 13:56" in res.stdout
