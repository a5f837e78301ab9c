"""`serve --http` behind a real TLS proxy, the set-up docs/ui.md points to: Caddy terminating
https for a name of its own (`tls internal`, Caddy's default of passing `Host` on and sending
X-Forwarded-Proto), memoryd on loopback with `--allow-host` for that name. The UI's login form,
its Secure cookie and its same-origin check, and the MCP endpoint's bearer tokens, all through
the proxy. Skipped where Caddy is not installed (.ci/run installs it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from memoryd.ui import load_or_create_token
from memoryd.ui.auth import UIAuth

from .conftest import seed_store, stop
from .test_ui_http import _free_port

NAME = "memoryd.test"
CADDY = shutil.which("caddy")
pytestmark = pytest.mark.skipif(CADDY is None, reason="caddy is not installed (apt-get install caddy)")


def _wait(url: str, proc: subprocess.Popen, what: str, **kw) -> httpx.Response:
    deadline = time.time() + 90
    while True:
        try:
            return httpx.get(url, timeout=2, **kw)
        except httpx.TransportError:
            if proc.poll() is not None:
                raise AssertionError(f"{what} exited: {proc.stderr.read() if proc.stderr else ''}") from None
            assert time.time() < deadline, f"{what} did not answer"
            time.sleep(0.3)


@pytest.fixture
def proxied(tmp_path, embedder):
    store = seed_store(tmp_path / "home", embedder)
    port, https_port = _free_port(), _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-c", "from memoryd.cli import main; main()", "--home", str(store.home),
                               "serve", "--http", "--port", str(port), "--allow-host", NAME],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text("{\n\tadmin off\n\tskip_install_trust\n\tauto_https disable_redirects\n"
                         f"\tstorage file_system {tmp_path / 'caddy'}\n}}\n"
                         f"https://{NAME}:{https_port} {{\n\ttls internal\n\treverse_proxy 127.0.0.1:{port}\n}}\n")
    caddy_env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "xdg"),
                 "XDG_CONFIG_HOME": str(tmp_path / "xdg")}  # nothing of Caddy's outside tmp_path
    caddy = subprocess.Popen([CADDY, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=caddy_env)
    try:
        _wait(f"http://127.0.0.1:{port}/ui/", server, "memoryd serve --http")
        origin = f"https://{NAME}:{https_port}"
        client = httpx.Client(verify=False, base_url=f"https://127.0.0.1:{https_port}",  # Caddy's own CA
                              headers={"host": f"{NAME}:{https_port}"}, timeout=30)
        client.origin = origin
        ext = {"sni_hostname": NAME}
        deadline = time.time() + 60
        while True:  # Caddy issues its certificate at start
            try:
                client.get("/ui/", extensions=ext)
                break
            except httpx.TransportError:
                assert caddy.poll() is None, caddy.stderr.read()
                assert time.time() < deadline, "caddy did not answer"
                time.sleep(0.3)
        yield client, ext, store
    finally:
        caddy.terminate()
        caddy.wait(10)
        stop(server)


def test_the_ui_logs_in_and_posts_through_a_tls_proxy(proxied):
    c, ext, store = proxied
    r = c.get("/ui/", extensions=ext)
    assert r.status_code == 401 and "content-security-policy" in r.headers  # memoryd's answer, not Caddy's
    token = load_or_create_token(store.home)
    r = c.post("/ui/login", data={"token": token}, headers={"origin": c.origin}, extensions=ext, follow_redirects=False)
    assert r.status_code == 303, r.text  # same-origin holds: https from X-Forwarded-Proto, the name from Host
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(UIAuth(token).cookie + "=") and "Secure" in cookie and "HttpOnly" in cookie
    page = c.get("/ui/memories", extensions=ext)
    assert page.status_code == 200 and 'id="memory-list"' in page.text
    csrf = UIAuth(token).csrf
    for origin in ("https://evil.example", f"http://{NAME}"):  # another site; the same name without TLS
        r = c.post("/ui/logout", data={"csrf": csrf}, headers={"origin": origin}, extensions=ext, follow_redirects=False)
        assert r.status_code == 403, origin
    r = c.post("/ui/logout", data={"csrf": csrf}, headers={"origin": c.origin}, extensions=ext, follow_redirects=False)
    assert r.status_code == 303


def _rpc(c: httpx.Client, ext: dict, body: dict, headers: dict) -> httpx.Response:
    return c.post("/mcp", json=body, extensions=ext,
                  headers={"accept": "application/json, text/event-stream", **headers})


def _result(r: httpx.Response) -> dict:
    text = r.text
    if "data:" in text:  # one SSE event
        text = next(line[5:] for line in text.splitlines() if line.startswith("data:"))
    return json.loads(text)


def test_an_agent_recalls_through_the_tls_proxy_with_its_bearer_token(proxied):
    c, ext, store = proxied
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    assert _rpc(c, ext, init, {}).status_code == 401  # no token
    assert _rpc(c, ext, init, {"authorization": "Bearer mdt_wrong"}).status_code == 401
    auth = {"authorization": f"Bearer {store.agent_token}"}
    r = _rpc(c, ext, init, auth)
    assert r.status_code == 200 and "serverInfo" in _result(r)["result"]
    session = {**auth, "mcp-session-id": r.headers.get("mcp-session-id", "")}
    _rpc(c, ext, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    r = _rpc(c, ext, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "recall", "arguments": {"query": "invoice Tuesdays"}}}, session)
    assert r.status_code == 200, r.text
    hits = json.loads(_result(r)["result"]["content"][0]["text"])
    assert any("invoice" in h["content"] for h in hits["hits"]), hits
