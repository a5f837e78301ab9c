"""Editing a memory's tags in place (`memoryd retag`, the web page's tag form): the text, id
and history stay; only the author or the operator may retag."""

from __future__ import annotations

import json

import pytest

from memoryd.errors import AuthError, ValidationError
from memoryd.models import NewMemory, Provenance, SearchFilters
from memoryd.services.authority import Caller


def _write(app, text, agent="alice", tags=("draft",)):
    prov = Provenance(agent_id=agent, tool="mcp")
    return app.memories.remember(NewMemory(text, tags=tags, provenance=prov)).memory


def _tagged(app, tag):
    return {m.id for m in app.memories.list(SearchFilters(tags=(tag,)), limit=50)}


def test_operator_replaces_the_tags_and_the_tag_filter_follows(app):
    m = _write(app, "The billing worker listens on port 9191.")
    out = app.memories.set_tags(m.id, [" ops ", "billing", "ops"])
    assert out.id == m.id and out.content == m.content and out.tags == ("ops", "billing")
    assert out.updated_at >= m.updated_at
    assert m.id in _tagged(app, "billing") and m.id not in _tagged(app, "draft")
    assert app.memories.get(m.id).tags == ("ops", "billing")
    assert app.memories.set_tags(m.id, []).tags == ()
    assert m.id not in _tagged(app, "billing")


def test_an_agent_retags_only_its_own_memories(app):
    mine = _write(app, "Alice keeps the release checklist in docs/release.md.", agent="alice")
    theirs = _write(app, "Bob rotates the staging keys every Monday.", agent="bob")
    alice = Caller(agent_id="alice")
    assert app.memories.set_tags(mine.id, ["release"], caller=alice).tags == ("release",)
    with pytest.raises(AuthError, match="only its own"):
        app.memories.set_tags(theirs.id, ["spam"], caller=alice)
    assert app.memories.get(theirs.id).tags == ("draft",)
    with pytest.raises(AuthError, match="write"):
        app.memories.set_tags(mine.id, ["x"], caller=Caller(agent_id="alice", scopes=frozenset({"read"})))


def test_bad_tags_are_refused_and_nothing_changes(app):
    m = _write(app, "The search service is pinned to Python 3.11.")
    for bad in (["two words"], [""], ["x" * 500], [f"t{i}" for i in range(200)]):
        with pytest.raises(ValidationError):
            app.memories.set_tags(m.id, bad)
    assert app.memories.get(m.id).tags == ("draft",)


def test_cli_retag(run):
    added = run("add", "Staging for gateway lives in eu-3.", "--tag", "old", "--json")
    assert added.exit_code == 0, added.output
    mid = json.loads(added.stdout)["id"]
    res = run("retag", mid, "infra", "staging", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["tags"] == ["infra", "staging"]
    shown = json.loads(run("show", mid, "--json").stdout)
    assert shown["tags"] == ["infra", "staging"] and shown["content"] == "Staging for gateway lives in eu-3."
    bad = run("retag", mid, "has space")
    assert bad.exit_code != 0 and "invalid tag" in bad.output
