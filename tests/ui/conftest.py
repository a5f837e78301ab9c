"""Fixtures for the web UI tests: a real store (SQLite file, real model, graph rebuilt)
served by `memoryd ui` in a subprocess, and a headless Chromium driven by Selenium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from memoryd.app import App
from memoryd.bench.harness import stop  # the one subprocess stopper (the MCP tests use it too)
from memoryd.config import Settings
from memoryd.models import NewMemory, Provenance

SUBJECT = "alice.smith@example.com"
XSS = ('Release notes <script>document.title="pwned"</script><img src=x onerror="document.body.dataset.pwned=1">'
       '<b id="injected">bold</b> end of note')
TOPICS = {
    "deploy": ["The deploy pipeline runs on Fridays after the {x} checks pass",
               "Rollback of a failed deploy uses the {x} script in ops/",
               "Deploys to production need a green {x} build and one approval"],
    "database": ["The Postgres database is backed up nightly to the {x} bucket",
                 "Database migrations run with alembic before the {x} service starts",
                 "Slow database queries are logged when they exceed {x} milliseconds"],
    "frontend": ["The frontend uses React with the {x} component library",
                 "Frontend tests run in Playwright against the {x} staging site",
                 "CSS in the frontend follows the {x} naming convention"],
}
FILLERS = ["alpha", "beta", "gamma", "delta", "omega"]


@dataclass
class Seeded:
    home: Path
    db: Path
    ids: dict[str, str]  # role -> memory id
    agent_token: str


def seed_store(home: Path, embedder) -> Seeded:
    settings = Settings.load(home=home, db=home / "memoryd.db", env={})
    app = App(settings, embedder=embedder)
    try:
        items = [NewMemory(t.format(x=f), namespace=topic, tags=(topic,),
                           provenance=Provenance(agent_id="bob" if i % 2 else "carol", tool="test"))
                 for topic, templates in TOPICS.items() for i, t in enumerate(templates) for f in FILLERS]
        app.memories.remember_many(items)
        ids = {
            "subject": app.memories.remember(NewMemory(
                f"Alice Smith ({SUBJECT}) asked to be called on Tuesdays about the invoice",
                namespace="crm", tags=("customer",), provenance=Provenance(agent_id="bob"))).memory.id,
            "xss": app.memories.remember(NewMemory(XSS, namespace="notes", provenance=Provenance(agent_id="mallory"))).memory.id,
            "forget": app.memories.remember(NewMemory("The office plant needs water every Monday",
                                                      namespace="notes")).memory.id,
        }
        agent_token = app.agents.add("bob").token
        app.graph.rebuild()
    finally:
        app.close()
    return Seeded(home, settings.db_path, ids, agent_token)


@dataclass
class Server:
    base: str  # http://127.0.0.1:PORT
    login_url: str  # with the operator UI token
    token: str
    seeded: Seeded
    proc: subprocess.Popen


def _read_json(stream) -> dict:
    lines = []
    for line in stream:
        lines.append(line)
        if line.rstrip() == "}":
            return json.loads("".join(lines))
    raise RuntimeError("memoryd ui exited before printing its URL: " + "".join(lines))


def start_ui(home: Path, seeded: Seeded, *extra: str) -> Server:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("MEMORYD_DB", None)
    proc = subprocess.Popen([sys.executable, "-c", "from memoryd.cli import main; main()", "--home", str(home),
                             "ui", "--port", "0", "--json", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    info = _read_json(proc.stdout)
    base = f"http://127.0.0.1:{info['port']}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(base + "/ui/", timeout=2).status_code == 401:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    token = info["url"].split("token=", 1)[1]
    return Server(base, info["url"], token, seeded, proc)


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory, embedder):
    home = tmp_path_factory.mktemp("uihome")
    seeded = seed_store(home, embedder)
    server = start_ui(home, seeded)
    yield server
    stop(server.proc)


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def browser():
    found = _chromium()
    if found is None:
        pytest.skip("no chromium/chromedriver on this machine: apt-get install -y chromium chromium-driver (.ci/run does)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed: pip install -e '.[test]'")
    opts = webdriver.ChromeOptions()
    opts.binary_location = found[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=found[1]))
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    """Where the page screenshots go: $MEMORYD_UI_SCREENSHOTS, else <pytest basetemp>/ui-screenshots."""
    env = os.environ.get("MEMORYD_UI_SCREENSHOTS")
    d = Path(env) if env else tmp_path_factory.getbasetemp() / "ui-screenshots"
    d.mkdir(parents=True, exist_ok=True)
    return d
