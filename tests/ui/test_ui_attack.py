"""Attacks on the HTTP faces of memoryd, against real subprocesses (`memoryd ui` and
`memoryd serve --http`): a DNS-rebinding page (its own Host and Origin, no cookie), an
oversized body on the one form that needs no login, and the operator UI token in logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from memoryd.bench.harness import CLI, child_env, start_http_server, stop, wait_listening
from memoryd.ui import load_or_create_token

from .conftest import _read_json

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def _add_agent(home: Path, name: str) -> str:
    out = subprocess.run([sys.executable, "-c", CLI, "agents", "add", name, "--json"], env=child_env(home),
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)["token"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`memoryd -v serve --http` (access log on), with one agent; yields (base, agent token, log)."""
    home = tmp_path_factory.mktemp("attack-serve")
    token = _add_agent(home, "bob")
    server = start_http_server(["-v"], home / "server.log", child_env(home))
    try:
        wait_listening(server.port, server.proc, server.log)
        yield f"http://127.0.0.1:{server.port}", server.port, token, home, server.log
    finally:
        stop(server.proc)


@pytest.fixture(scope="module")
def ui_proc(tmp_path_factory):
    """`memoryd -v ui` on an empty store; yields (base, port, operator UI token, process)."""
    home = tmp_path_factory.mktemp("attack-ui")
    proc = subprocess.Popen([sys.executable, "-c", CLI, "--home", str(home), "-v", "ui", "--port", "0", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(home))
    try:
        info = _read_json(proc.stdout)
        wait_listening(info["port"], proc, home / "none.log")
        yield f"http://127.0.0.1:{info['port']}", info["port"], info["url"].split("token=", 1)[1], proc
    finally:
        stop(proc)


def _bearer(token: str) -> dict[str, str]:
    return {**MCP_HEADERS, "authorization": f"Bearer {token}"}


def test_serve_http_refuses_a_rebound_host_on_mcp_and_ui(served):
    base, port, token, _, _ = served
    assert httpx.post(f"{base}/mcp", json=INIT, headers=_bearer(token), timeout=60).status_code == 200
    # a page of evil.example whose name now resolves to 127.0.0.1: its Host and Origin are its own
    evil = {"host": f"evil.example:{port}", "origin": f"http://evil.example:{port}"}
    assert httpx.post(f"{base}/mcp", json=INIT, headers={**_bearer(token), **evil}, timeout=60).status_code == 421
    assert httpx.get(f"{base}/ui/", headers=evil, timeout=60).status_code == 421
    # a cross-site page calling the real loopback address: refused by its Origin
    cross = {**_bearer(token), "origin": "http://evil.example"}
    assert httpx.post(f"{base}/mcp", json=INIT, headers=cross, timeout=60).status_code == 403
    # the names of loopback still work
    assert httpx.get(f"http://localhost:{port}/ui/", timeout=60).status_code == 401


def test_serve_http_log_never_holds_the_ui_token(served):
    base, _, _, home, log = served
    ui_token = load_or_create_token(home)
    assert httpx.get(f"{base}/ui/?token={ui_token}", follow_redirects=False, timeout=60).status_code == 303
    assert httpx.get(f"{base}/ui/?token=mdui_wrong-guess", timeout=60).status_code == 403
    text = log.read_text()
    assert "operator web UI" in text and "ui.token" in text  # it says where the token is
    assert ui_token not in text and "mdui_wrong-guess" not in text
    assert "token=" in text  # the access log line is there, redacted


def test_ui_refuses_a_rebound_host(ui_proc):
    base, port, token, _ = ui_proc
    evil = {"host": f"evil.example:{port}", "origin": f"http://evil.example:{port}"}
    assert httpx.get(f"{base}/ui/", timeout=30).status_code == 401
    assert httpx.get(f"{base}/ui/", headers=evil, timeout=30).status_code == 421
    r = httpx.post(f"{base}/ui/login", data={"token": "guess"}, headers=evil, timeout=30)
    assert r.status_code == 421
    assert httpx.get(f"{base}/ui/?token={token}", headers=evil, follow_redirects=False, timeout=30).status_code == 421


def test_ui_login_refuses_an_oversized_body_unread(ui_proc):
    base, port, _, proc = ui_proc
    same = {"origin": base, "content-type": "application/x-www-form-urlencoded"}
    big = b"&".join(b"f%d=" % i + b"a" * (512 << 10) for i in range(48)) + b"&token=guess"  # 24 MiB, 512 KiB fields
    r = httpx.post(f"{base}/ui/login", content=big, headers=same, timeout=60)
    assert r.status_code == 413
    # without a Content-Length (chunked): cut off at the limit as well
    r = httpx.post(f"{base}/ui/login", content=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                   headers=same, timeout=60)
    assert r.status_code == 413
    assert httpx.post(f"{base}/ui/login", data={"token": "guess"}, headers={"origin": base},
                      timeout=30).status_code == 403  # a normal form still gets its answer
    assert proc.poll() is None


def test_ui_access_log_never_holds_the_ui_token(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", CLI, "--home", str(tmp_path), "-v", "ui", "--port", "0", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(tmp_path))
    try:
        info = _read_json(proc.stdout)
        token = info["url"].split("token=", 1)[1]
        wait_listening(info["port"], proc, tmp_path / "none.log")
        base = f"http://127.0.0.1:{info['port']}"
        assert httpx.get(f"{base}/ui/?token={token}", follow_redirects=False, timeout=30).status_code == 303
    finally:
        stop(proc)
    logged = proc.stdout.read() + proc.stderr.read()  # uvicorn's access log goes to stdout
    assert "GET /ui/?token=" in logged and token not in logged
