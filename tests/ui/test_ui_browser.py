"""The web UI in a real headless Chromium against `memoryd ui` serving a store made here:
log in, search, open a memory, forget one, run a subject erasure (dry run, confirm,
receipt, verification), XSS, cross-site requests, the agent token refused, every page
drawn; screenshots of each page are saved (conftest.screenshot_dir)."""

from __future__ import annotations

import http.server
import sqlite3
import threading
from functools import partial

import httpx
import pytest

from .conftest import SUBJECT

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def rows_with_id(db, memory_id: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM memories WHERE id = ?", (memory_id,)).fetchone()[0]


def login(browser, server) -> None:
    browser.get(server.login_url)
    WebDriverWait(browser, 60).until(EC.presence_of_element_located((By.ID, "search-form")))


def shot(browser, screenshot_dir, name: str) -> None:
    browser.save_screenshot(str(screenshot_dir / f"{name}.png"))


def test_an_agent_token_does_not_log_in(ui_server, browser):
    browser.delete_all_cookies()
    browser.get(f"{ui_server.base}/ui/?token={ui_server.seeded.agent_token}")
    assert browser.find_element(By.ID, "login-failed").is_displayed()
    assert not [c for c in browser.get_cookies() if c["name"].startswith("memoryd_ui")]
    browser.get(f"{ui_server.base}/ui/memories")
    assert browser.find_elements(By.NAME, "token") and not browser.find_elements(By.ID, "search-form")


def test_login_sets_a_strict_httponly_cookie_and_drops_the_token_from_the_address(ui_server, browser):
    login(browser, ui_server)
    assert browser.current_url == f"{ui_server.base}/ui/memories"
    (cookie,) = [c for c in browser.get_cookies() if c["name"].startswith("memoryd_ui")]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and ui_server.token not in cookie["value"]
    assert browser.execute_script("return document.cookie") == ""  # HttpOnly: scripts cannot read it


def test_search_shows_why_each_hit_matched_and_opens_the_memory(ui_server, browser, screenshot_dir):
    login(browser, ui_server)
    box = browser.find_element(By.NAME, "q")
    box.send_keys("database backups bucket")
    box.submit()
    hits = WebDriverWait(browser, 60).until(EC.presence_of_all_elements_located((By.CSS_SELECTOR, "#hits li.hit")))
    assert "backed up nightly" in hits[0].text
    assert "why:" in hits[0].find_element(By.CLASS_NAME, "why").text
    assert "ms" in browser.find_element(By.ID, "search-meta").text
    shot(browser, screenshot_dir, "02-search")
    hits[0].find_element(By.CSS_SELECTOR, "a.mid").click()
    content = WebDriverWait(browser, 60).until(EC.presence_of_element_located((By.ID, "memory-content")))
    assert "backed up nightly" in content.text
    assert "database" in browser.page_source  # namespace in the provenance
    assert browser.find_elements(By.CSS_SELECTOR, "#neighbours li a")  # graph neighbours listed
    shot(browser, screenshot_dir, "03-memory")


def test_filters_and_paging(ui_server, browser):
    login(browser, ui_server)
    browser.get(f"{ui_server.base}/ui/memories?namespace=frontend&agent=bob")
    rows = browser.find_elements(By.CSS_SELECTOR, "#memory-list tbody tr")
    assert rows and all("frontend" in r.text and "bob" in r.text for r in rows)
    browser.get(f"{ui_server.base}/ui/memories?tag=deploy")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#memory-list tbody tr")) == 15
    browser.get(f"{ui_server.base}/ui/memories")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#memory-list tbody tr")) == 48 or browser.find_elements(By.ID, "next")


def test_a_memory_with_markup_renders_as_text(ui_server, browser, screenshot_dir):
    login(browser, ui_server)
    xss = ui_server.seeded.ids["xss"]
    for url in (f"/ui/memory/{xss}", "/ui/memories?q=release+notes+bold", "/ui/memories?namespace=notes"):
        browser.get(ui_server.base + url)
        assert not browser.find_elements(By.ID, "injected"), url
        assert not browser.find_elements(By.CSS_SELECTOR, "main img"), url
        assert browser.title != "pwned" and browser.execute_script("return document.body.dataset.pwned") is None
        assert '<b id="injected">bold</b>' in browser.find_element(By.TAG_NAME, "main").text, url
    browser.get(f"{ui_server.base}/ui/memory/{xss}")
    shot(browser, screenshot_dir, "04-memory-with-markup")


def test_forget_asks_for_confirmation(ui_server, browser):
    login(browser, ui_server)
    mid = ui_server.seeded.ids["forget"]
    browser.get(f"{ui_server.base}/ui/memory/{mid}")
    browser.find_element(By.ID, "forget-link").click()
    WebDriverWait(browser, 30).until(EC.presence_of_element_located((By.ID, "forget-form")))
    assert rows_with_id(ui_server.seeded.db, mid) == 1  # the link only asks
    browser.find_element(By.ID, "forget-confirm").click()
    browser.find_element(By.ID, "forget-button").click()
    assert "forgot 1 memory" in WebDriverWait(browser, 60).until(EC.presence_of_element_located((By.ID, "done"))).text
    assert rows_with_id(ui_server.seeded.db, mid) == 0
    browser.get(f"{ui_server.base}/ui/memory/{mid}")
    assert "no memory with id" in browser.find_element(By.ID, "error").text


def test_subject_erasure_dry_run_confirm_receipt_verify(ui_server, browser, screenshot_dir):
    login(browser, ui_server)
    mid, db = ui_server.seeded.ids["subject"], ui_server.seeded.db
    browser.get(f"{ui_server.base}/ui/erasure")
    shot(browser, screenshot_dir, "05-erasure")
    browser.find_element(By.ID, "subjects").send_keys(SUBJECT)
    browser.find_element(By.ID, "dry-run").click()
    table = WebDriverWait(browser, 60).until(EC.presence_of_element_located((By.ID, "plan-items")))
    assert mid in table.text and "Alice Smith" in table.text
    assert SUBJECT in table.text or "e-mail" in table.text.lower()  # why, per field
    shot(browser, screenshot_dir, "06-erasure-dry-run")
    assert rows_with_id(db, mid) == 1  # a dry run erases nothing
    browser.find_element(By.ID, "erase-button").click()  # without the box ticked: the browser refuses
    assert rows_with_id(db, mid) == 1 and browser.find_elements(By.ID, "confirm-form")
    browser.find_element(By.ID, "erase-confirm").click()
    browser.find_element(By.ID, "erase-button").click()
    status = WebDriverWait(browser, 120).until(EC.presence_of_element_located((By.ID, "receipt-status")))
    assert "verified and sealed" in status.text
    shot(browser, screenshot_dir, "07-erasure-receipt")
    receipt_id = browser.find_element(By.ID, "receipt-id").text
    browser.find_element(By.NAME, "subject").send_keys(SUBJECT)
    browser.find_element(By.ID, "verify-button").click()
    result = WebDriverWait(browser, 120).until(EC.presence_of_element_located((By.ID, "verify-result")))
    assert result.text == "VERIFIED" and "subject in this request's scope" in browser.page_source
    assert "alice" not in browser.current_url  # the subject checked never lands in a URL
    shot(browser, screenshot_dir, "08-erasure-verified")
    # gone from the pages and from the database file
    assert rows_with_id(db, mid) == 0
    browser.get(f"{ui_server.base}/ui/memories?namespace=crm")
    assert mid not in browser.page_source
    browser.get(f"{ui_server.base}/ui/memories?q=Alice+Smith+invoice")
    assert mid not in browser.page_source
    browser.get(f"{ui_server.base}/ui/erasure")
    assert receipt_id in browser.find_element(By.ID, "receipts").text


class _EvilPage(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


def test_a_cross_site_form_in_the_browser_is_refused(ui_server, browser, tmp_path):
    """A page on another origin auto-submits a forget to the UI: refused, memory kept."""
    login(browser, ui_server)
    mid = ui_server.seeded.ids["xss"]
    (tmp_path / "evil.html").write_text(
        f'<form id="f" method="post" action="{ui_server.base}/ui/memory/{mid}/forget">'
        '<input name="confirm" value="yes"><input name="csrf" value="guess"></form>'
        '<script>document.getElementById("f").submit()</script>')
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_EvilPage, directory=str(tmp_path)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://localhost:{httpd.server_address[1]}/evil.html")
        WebDriverWait(browser, 30).until(lambda d: "/ui/memory/" in d.current_url)
        assert browser.find_elements(By.NAME, "token") or "refused" in browser.page_source
    finally:
        httpd.shutdown()
    assert rows_with_id(ui_server.seeded.db, mid) == 1


def test_every_page_draws_and_the_graph_view_is_interactive(ui_server, browser, screenshot_dir):
    login(browser, ui_server)
    shot(browser, screenshot_dir, "01-memories")
    browser.get(f"{ui_server.base}/ui/graph")
    links = browser.find_elements(By.CSS_SELECTOR, "#communities a")
    assert links, "the seeded store has communities after the rebuild"
    shot(browser, screenshot_dir, "09-graph")
    browser.get_log("browser")  # drop what earlier tests logged (the refused logins' 401/403)
    links[0].click()
    canvas = WebDriverWait(browser, 60).until(EC.presence_of_element_located((By.ID, "graph-canvas")))
    WebDriverWait(browser, 60).until(lambda d: canvas.get_attribute("data-nodes"))
    assert int(canvas.get_attribute("data-nodes")) >= 2 and int(canvas.get_attribute("data-links")) >= 1
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]  # no CSP violation, no JS error
    shot(browser, screenshot_dir, "10-graph-community")
    browser.get(f"{ui_server.base}/ui/trust")
    assert "bob" in browser.find_element(By.ID, "agents").text
    browser.find_element(By.CSS_SELECTOR, "#add-agent input[name=name]").send_keys("dora")
    browser.find_element(By.CSS_SELECTOR, "#add-agent button").click()
    token = WebDriverWait(browser, 30).until(EC.presence_of_element_located((By.ID, "agent-token"))).text
    assert len(token) > 20
    r = httpx.get(f"{ui_server.base}/ui/?token={token}", follow_redirects=False)
    assert r.status_code == 403  # a fresh agent token does not open the UI either
    browser.get(f"{ui_server.base}/ui/trust")
    assert "dora" in browser.find_element(By.ID, "agents").text
    shot(browser, screenshot_dir, "11-trust")
    browser.find_element(By.CSS_SELECTOR, "#trust-table a").click()  # an agent's evidence, in words
    assert browser.find_element(By.ID, "verdict").text.strip()
    shot(browser, screenshot_dir, "11b-trust-explain")
    browser.get(f"{ui_server.base}/ui/models")
    assert browser.find_element(By.ID, "models").is_displayed()
    shot(browser, screenshot_dir, "12-models")
    assert len(list(screenshot_dir.glob("*.png"))) >= 8
