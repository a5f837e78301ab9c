"""The Models page and an erasure that edits a local model, through the UI: a tiny model
adapted on memories (the ledger tests' helper), one absorbed memory erased from the Erasure
page, the receipt sealed after the model edit, the edit's verification figures shown."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from editing.ledger_helpers import adapt_people  # tests/editing: a tiny model adapted through the App
from memoryd.ui import create_ui_app, load_or_create_token
from memoryd.ui.auth import UIAuth

BASE = "http://127.0.0.1:8766"


@pytest.mark.slow
def test_erasing_an_absorbed_memory_from_the_ui_edits_the_model_and_shows_the_figures(app, settings, tmp_path):
    data, mems, out = adapt_people(app, tmp_path)
    victim = next(m for m in mems if any(a["memory_id"] == m.id and a["reproduced"] for a in data["absorbed"]))
    token = load_or_create_token(settings.home)
    c = TestClient(create_ui_app(app, token), base_url=BASE)
    name = UIAuth(token).cookie
    c.cookies.set(name, c.get(f"/ui/?token={token}", follow_redirects=False).cookies[name], path="/ui")
    page = c.get("/ui/models").text
    assert data["id"] in page and "adapt-full" in page
    assert victim.id in c.get(f"/ui/models/{data['id']}").text  # what it absorbed

    # forget would leave the memory in the weights: the UI shows the service's refusal
    csrf, origin = UIAuth(token).csrf, {"origin": BASE}
    r = c.post(f"/ui/memory/{victim.id}/forget", data={"csrf": csrf, "confirm": "yes"}, headers=origin)
    assert r.status_code == 400 and "erase it instead" in r.text

    form = {"csrf": csrf, "memory_ids": victim.id, "field_hits": "erase", "ground": ""}
    plan = c.post("/ui/erasure/plan", data=form, headers=origin)
    expect = re.search(r'name="expect" value="([^"]*)"', plan.text).group(1)
    r = c.post("/ui/erasure/execute", data={**form, "expect": expect, "confirm": "yes"}, headers=origin)
    assert r.status_code == 200 and "verified and sealed" in r.text, r.text[:2000]
    assert app.models.list()[-1]["method"] == "stamp"
    new_id = app.models.list()[-1]["id"]
    page = c.get(f"/ui/models/{new_id}").text
    assert "edited" in page and "forget_exact_after: 0.0" in page and "retain_ratio" in page
    assert victim.id not in page
