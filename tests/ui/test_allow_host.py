"""A TLS proxy in front of a loopback-bound `memoryd serve --http` (docs/ui.md: "unless a
TLS proxy sits in front"): Caddy passes the client's Host on by default, so every request
reaches memoryd addressed to the proxy's name. `--allow-host NAME` lets that name (and a
browser Origin of it) in; any other name still gets 421 (DNS rebinding), and the 421 says
how to allow a proxy's name."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx
import pytest

from memoryd.bench.harness import CLI, child_env, free_port, stop, wait_listening

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


def test_serve_http_answers_an_allowed_proxy_name_and_refuses_others(tmp_path):
    home = tmp_path / "home"
    env = child_env(home)
    token = json.loads(subprocess.run([sys.executable, "-c", CLI, "agents", "add", "bob", "--json"], env=env,
                                      capture_output=True, text=True, timeout=120, check=True).stdout)["token"]
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-c", CLI, "serve", "--http", "--port", str(port),
                                 "--allow-host", "memoryd.example.test"], env=env, stdin=subprocess.DEVNULL,
                                stdout=fh, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, proc, log)
        headers = {"accept": "application/json, text/event-stream", "content-type": "application/json",
                   "authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{port}"
        proxied = {**headers, "host": "memoryd.example.test", "origin": "https://memoryd.example.test"}
        assert httpx.post(f"{base}/mcp", json=INIT, headers=proxied, timeout=60).status_code == 200
        assert httpx.get(f"{base}/ui/", headers={"host": "memoryd.example.test"}, timeout=60).status_code == 401
        other = httpx.post(f"{base}/mcp", json=INIT, headers={**headers, "host": "evil.example"}, timeout=60)
        assert other.status_code == 421 and "--allow-host" in other.text
        assert httpx.post(f"{base}/mcp", json=INIT, headers=headers, timeout=60).status_code == 200  # loopback still
    finally:
        stop(proc)


def test_allow_host_without_http_is_refused(tmp_path):
    r = subprocess.run([sys.executable, "-c", CLI, "serve", "--allow-host", "memoryd.example.test"],
                       env=child_env(tmp_path / "home"), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--allow-host is for --http" in r.stderr


def test_serve_http_on_ipv6_loopback_prints_a_url_a_client_can_use(tmp_path):
    """`--host ::1`: the printed MCP URL is http://[::1]:PORT/mcp (it was http://::1:PORT/mcp,
    which no client parses), and that URL is served."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    home = tmp_path / "home"
    env = child_env(home)
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-c", CLI, "serve", "--http", "--host", "::1", "--port", str(port)],
                                env=env, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT)
    try:
        url = f"http://[::1]:{port}/mcp"
        for _ in range(600):
            if url in log.read_text() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert url in log.read_text(), log.read_text()
        for _ in range(300):  # listening follows the line
            try:
                r = httpx.post(url, json=INIT, headers={"accept": "application/json, text/event-stream"}, timeout=60)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert r.status_code == 401  # reached: no token
    finally:
        stop(proc)
