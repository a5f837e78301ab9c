"""The web UI over plain HTTP (no browser needed): the token file, login, headers, CSRF and
Origin checks, escaping, paging, confirmations, and /ui on `serve --http` next to the MCP
endpoint. Runs everywhere, also where Chromium is missing."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import time

import httpx
import pytest
from starlette.testclient import TestClient

from memoryd.app import App
from memoryd.ui import TOKEN_FILE, create_ui_app, load_or_create_token, new_token
from memoryd.ui.auth import UIAuth

from .conftest import SUBJECT, XSS, seed_store, stop

BASE = "http://127.0.0.1:8766"


@pytest.fixture(scope="module")
def store(tmp_path_factory, embedder):
    home = tmp_path_factory.mktemp("uihttp")
    return seed_store(home, embedder)


@pytest.fixture
def client(store, embedder):
    from memoryd.config import Settings

    app = App(Settings.load(home=store.home, db=store.db, env={}), embedder=embedder)
    token = load_or_create_token(store.home)
    c = TestClient(create_ui_app(app, token), base_url=BASE)
    c.token = token
    c.app_ref = app
    c.csrf = UIAuth(token).csrf
    yield c
    app.close()


def logged_in(c: TestClient) -> TestClient:
    r = c.get(f"/ui/?token={c.token}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/memories"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
    c.cookies.clear()
    name = UIAuth(c.token).cookie
    c.cookies.set(name, r.cookies[name], path="/ui")
    return c


def post(c, path, data, origin=BASE, headers=None):
    headers = {**({"origin": origin} if origin else {}), **(headers or {})}
    return c.post(path, data=data, headers=headers, follow_redirects=False)


def test_the_token_file_is_private_and_stable(tmp_path):
    t1 = load_or_create_token(tmp_path)
    path = tmp_path / TOKEN_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_token(tmp_path) == t1
    os.chmod(path, 0o644)
    assert load_or_create_token(tmp_path) == t1 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    t2 = new_token(tmp_path)
    assert t2 != t1 and load_or_create_token(tmp_path) == t2 and not UIAuth(t2).token_ok(t1)


def test_pages_need_the_operator_token_not_an_agents(client, store):
    for path in ("/ui/memories", "/ui/trust", "/ui/erasure", "/ui/graph", "/ui/models", f"/ui/memory/{store.ids['xss']}"):
        r = client.get(path)
        assert r.status_code == 401 and 'name="token"' in r.text, path
    r = client.get(f"/ui/?token={store.agent_token}", follow_redirects=False)
    assert r.status_code == 403 and "memoryd_ui_" not in r.headers.get("set-cookie", "")
    r = post(client, "/ui/login", {"token": store.agent_token})
    assert r.status_code == 403
    r = post(client, "/ui/login", {"token": client.token})
    assert r.status_code == 303 and f"{UIAuth(client.token).cookie}=" in r.headers["set-cookie"]
    client.cookies.clear()
    client.cookies.set(UIAuth(client.token).cookie, "0" * 64, path="/ui")
    assert client.get("/ui/memories").status_code == 401  # a forged cookie


def test_two_uis_on_one_host_keep_their_own_sessions(client, tmp_path):
    """Browsers keep one cookie jar for every port of 127.0.0.1: a second store's UI on another
    port must not overwrite the first one's session (they used to share the name memoryd_ui)."""
    other = TestClient(create_ui_app(client.app_ref, new_token(tmp_path)), base_url="http://127.0.0.1:8767")
    jar = {}
    for c, token in ((client, client.token), (other, load_or_create_token(tmp_path))):
        r = c.get(f"/ui/?token={token}", follow_redirects=False)
        assert r.status_code == 303
        jar.update(r.cookies)  # the browser's one jar for 127.0.0.1
    assert len(jar) == 2 and all(name.startswith("memoryd_ui_") for name in jar)
    for c in (client, other):
        c.cookies.clear()
        for name, value in jar.items():
            c.cookies.set(name, value, path="/ui")
        assert c.get("/ui/memories").status_code == 200  # both still logged in
    assert UIAuth(client.token).cookie == UIAuth(client.token).cookie != UIAuth(load_or_create_token(tmp_path)).cookie


def test_every_page_sends_a_strict_csp_and_escapes_memory_content(client, store):
    logged_in(client)
    xss = store.ids["xss"]
    for path in (f"/ui/memory/{xss}", "/ui/memories?q=release+notes+bold", "/ui/memories?namespace=notes",
                 f"/ui/memory/{xss}/forget", "/ui/trust"):
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "<script>document.title" not in r.text and '<b id="injected">' not in r.text, path
        assert "<img src=x" not in r.text, path
    r = client.get(f"/ui/memory/{xss}")
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in r.text
    assert len(XSS) > 0 and re.findall(r"<script\b", r.text) == []  # no script at all on a memory page


def test_cross_site_posts_and_missing_csrf_are_refused(client, store):
    logged_in(client)
    mid = store.ids["xss"]
    form = {"csrf": client.csrf, "confirm": "yes"}
    assert post(client, f"/ui/memory/{mid}/forget", form, origin="http://evil.example").status_code == 403
    assert post(client, f"/ui/memory/{mid}/forget", form, origin=None,
                headers={"referer": "http://evil.example/page"}).status_code == 403
    assert post(client, f"/ui/memory/{mid}/forget", form, origin=None).status_code == 403  # neither header
    assert post(client, f"/ui/memory/{mid}/forget", {"confirm": "yes"}).status_code == 403  # no CSRF token
    assert post(client, f"/ui/memory/{mid}/forget", {"confirm": "yes", "csrf": "x" * 64}).status_code == 403
    assert post(client, "/ui/erasure/execute", {"csrf": "nope", "subjects": SUBJECT, "confirm": "yes"},
                origin="http://evil.example").status_code == 403
    assert client.get(f"/ui/memory/{mid}").status_code == 200  # still there
    # without the confirmation field nothing is deleted
    r = post(client, f"/ui/memory/{mid}/forget", {"csrf": client.csrf})
    assert r.status_code == 303 and r.headers["location"].endswith(f"/memory/{mid}/forget")
    assert client.get(f"/ui/memory/{mid}").status_code == 200


def test_the_tag_form_replaces_tags_and_refuses_cross_site_posts(client, store):
    logged_in(client)
    mid = store.ids["xss"]
    page = client.get(f"/ui/memory/{mid}").text
    assert 'id="tags-form"' in page and f'action="/ui/memory/{mid}/tags"' in page
    assert post(client, f"/ui/memory/{mid}/tags", {"csrf": client.csrf, "tags": "a"},
                origin="http://evil.example").status_code == 403
    r = post(client, f"/ui/memory/{mid}/tags", {"csrf": client.csrf, "tags": "reviewed, ui-edited"})
    assert r.status_code == 303 and r.headers["location"].endswith(f"/memory/{mid}")
    page = client.get(f"/ui/memory/{mid}").text
    assert 'value="reviewed, ui-edited"' in page
    assert post(client, f"/ui/memory/{mid}/tags", {"csrf": client.csrf, "tags": "two words"}).status_code == 400


def test_supersede_from_the_page_and_the_old_version_points_to_the_new(client, store, embedder):
    from memoryd.config import Settings
    from memoryd.models import NewMemory

    other = App(Settings.load(home=store.home, db=store.db, env={}), embedder=embedder)
    try:
        old = other.memories.remember(NewMemory("The staging bucket is emptied every Sunday night",
                                                namespace="ops")).memory
    finally:
        other.close()
    logged_in(client)
    assert 'id="superseded"' not in client.get(f"/ui/memory/{old.id}").text
    r = post(client, f"/ui/memory/{old.id}/supersede",
             {"csrf": client.csrf, "content": "The staging bucket is emptied every Saturday night", "tags": "ops"})
    assert r.status_code == 303
    new_id = r.headers["location"].rsplit("/", 1)[1]
    assert new_id != old.id
    page = client.get(f"/ui/memory/{old.id}").text
    assert f'superseded by <a class="mid" href="/ui/memory/{new_id}">' in page


def test_erasure_needs_confirmation_and_refuses_a_changed_plan(client, store):
    logged_in(client)
    req = {"csrf": client.csrf, "subjects": SUBJECT, "field_hits": "erase", "ground": ""}
    r = post(client, "/ui/erasure/plan", req)
    assert r.status_code == 200 and store.ids["subject"] in r.text
    expect = re.search(r'name="expect" value="([^"]*)"', r.text).group(1)
    r = post(client, "/ui/erasure/execute", {**req, "expect": expect})  # no confirm box
    assert r.status_code == 400 and "confirmation" in r.text
    r = post(client, "/ui/erasure/execute", {**req, "expect": "someone-else|", "confirm": "yes"})
    assert r.status_code == 400 and "changed since the dry run" in r.text
    assert client.get(f"/ui/memory/{store.ids['subject']}").status_code == 200
    r = post(client, "/ui/erasure/plan", {"csrf": client.csrf})
    assert r.status_code == 400 and "at least one" in r.text


def test_list_pages_and_bad_input(client):
    logged_in(client)
    r = client.get("/ui/memories?tag=deploy&page=0")
    assert r.text.count('class="mid"') == 15 and 'id="next"' not in r.text
    assert client.get("/ui/memories?since=yesterday-ish").status_code == 400
    assert client.get("/ui/memories?page=x").status_code == 400
    assert client.get("/ui/memory/nope").status_code == 404
    assert client.get("/ui/graph/community/99999").status_code == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_http_mounts_the_ui_beside_the_mcp_endpoint(store):
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", "from memoryd.cli import main; main()", "--home", str(store.home),
                             "serve", "--http", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while True:
            try:
                r = httpx.get(base + "/ui/", timeout=2)
                break
            except httpx.TransportError:
                assert time.time() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() is not None else "timeout"
                time.sleep(0.3)
        assert r.status_code == 401 and "content-security-policy" in r.headers
        token = load_or_create_token(store.home)
        r = httpx.get(f"{base}/ui/?token={token}", follow_redirects=False)
        assert r.status_code == 303
        name = UIAuth(token).cookie
        r = httpx.get(f"{base}/ui/memories", cookies={name: r.cookies[name]})
        assert r.status_code == 200 and 'id="memory-list"' in r.text
        # the agents' API is unchanged: the MCP endpoint still wants a bearer token
        assert httpx.post(f"{base}/mcp", json={}, headers={"accept": "application/json, text/event-stream"}).status_code == 401
        assert httpx.get(f"{base}/ui/?token={store.agent_token}").status_code == 403
    finally:
        stop(proc)


def test_trust_page_actions(client, store):
    logged_in(client)
    r = post(client, "/ui/trust/agent/mallory", {"csrf": client.csrf, "action": "flag"})
    assert r.status_code == 400 and "confirmation" in r.text  # flag needs the box ticked
    r = post(client, "/ui/trust/agent/mallory", {"csrf": client.csrf, "action": "flag", "confirm": "yes"})
    assert r.status_code == 303
    page = client.get("/ui/trust").text
    assert store.ids["xss"] in page.split('id="quarantine"', 1)[1]  # a flagged author's memory is held back
    assert 'href="/ui/trust/explain/mallory"' in page
    why = client.get("/ui/trust/explain/mallory")
    assert why.status_code == 200 and "the operator flagged it" in why.text.split('id="evidence"', 1)[1]
    memory_why = client.get(f"/ui/trust/explain/{store.ids['xss']}")
    assert memory_why.status_code == 200 and 'id="verdict"' in memory_why.text
    assert "&lt;script&gt;" in memory_why.text or "<script>" not in memory_why.text  # escaped like every page
    assert client.get("/ui/trust/explain/nobody-at-all").status_code == 404
    assert post(client, f"/ui/trust/release/{store.ids['xss']}", {"csrf": client.csrf}).status_code == 303
    assert store.ids["xss"] not in client.get("/ui/trust").text.split('id="quarantine"', 1)[1].split("</table>")[0]
    r = post(client, "/ui/agents/add", {"csrf": client.csrf, "name": "erin", "scope_read": "1"})
    assert r.status_code == 200 and "erin" in r.text
    token = re.search(r'<pre id="agent-token">([^<]+)</pre>', r.text).group(1)
    assert client.get(f"/ui/?token={token}", follow_redirects=False).status_code == 403
    r = post(client, "/ui/agents/erin", {"csrf": client.csrf, "action": "scopes", "scope_read": "1", "scope_write": "1"})
    assert r.status_code == 303
    assert post(client, "/ui/agents/erin", {"csrf": client.csrf, "action": "revoke"}).status_code == 400  # no confirm
    r = post(client, "/ui/agents/erin", {"csrf": client.csrf, "action": "rotate", "confirm": "yes"})
    new = re.search(r'<pre id="agent-token">([^<]+)</pre>', r.text).group(1)
    assert new != token
    assert post(client, "/ui/agents/erin", {"csrf": client.csrf, "action": "revoke", "confirm": "yes"}).status_code == 303
    rows = client.get("/ui/trust").text.split('id="agents"', 1)[1]
    erin = rows[rows.index("<td>erin</td>"):].split("</tr>")[0]
    assert "revoked" in erin and "scope_write" in erin and 'name="scope_write" value="1" checked' in erin


def test_memoryd_ui_prints_its_url_and_refuses_a_busy_port(store):
    run = [sys.executable, "-c", "from memoryd.cli import main; main()", "--home", str(store.home), "ui"]
    r = subprocess.run([*run, "--port", "0", "--print-url", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    info = __import__("json").loads(r.stdout)
    assert info["url"].startswith("http://127.0.0.1:") and info["url"].endswith(load_or_create_token(store.home))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        r = subprocess.run([*run, "--port", str(busy.getsockname()[1])], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "cannot listen on 127.0.0.1" in r.stderr and "Traceback" not in r.stderr
