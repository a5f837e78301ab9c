"""Kill the erasing process (SIGKILL, real subprocesses) at every step and at random
moments: the request is then either not applied at all, or fully applied once the store
is opened again; nothing else is ever lost."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from erasure_helpers import ALICE, raw_hits, seed

from memoryd.app import App
from memoryd.services.erasure import STEPS
from memoryd.services.porting import export_jsonl

WORKER = Path(__file__).with_name("crash_worker.py")


def _prepare(settings, embedder):
    with App(settings, embedder=embedder) as a:
        s = seed(a, corpus=8)
        settings.exports_dir.mkdir(parents=True, exist_ok=True)
        export_jsonl(a, settings.exports_dir / "all.jsonl")
        before = {m.id: m.content_hash for m in a.memories.iter_all()}
        texts = {m.id: m.content for m in a.memories.iter_all()}
    return s, before, texts


def _check_all_or_nothing(settings, embedder, targets: list[str], before: dict[str, str], texts: list[str]) -> str:
    """Reopen (which resumes), then: 'applied' or 'not applied', never in between."""
    with App(settings, embedder=embedder) as a:
        now = {m.id: m.content_hash for m in a.memories.iter_all()}
        receipts = a.erasure.receipts()
        assert a.conn.execute("SELECT count(*) FROM erasure_requests").fetchone()[0] == 0
        others = {i: h for i, h in before.items() if i not in targets}
        assert {i: now.get(i) for i in others} == others  # nothing else lost or changed
        present = [t for t in targets if t in now]
        if not present:
            assert len(receipts) == 1
            r = a.erasure.receipt(receipts[0]["id"])
            assert r.ok and r.body["counts"]["memories"] in (0, len(targets))
            assert a.erasure.verify(r.id).ok
            assert a.stats().vectors == a.stats().memories
            state = "applied"
        else:
            assert present == targets and receipts == []
            state = "not applied"
        a.conn.execute("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")
    if state == "applied":  # and the bytes are gone, whatever the step it was killed at
        assert raw_hits(settings, texts + targets) == {}
    return state


@pytest.mark.parametrize("step", STEPS)
def test_killed_at_each_step(settings, embedder, step):
    s, before, texts = _prepare(settings, embedder)
    targets = s.alice[:2]
    assert [texts[t] for t in targets] == ALICE[:2]
    p = subprocess.run([sys.executable, str(WORKER), str(settings.home), "step", step, *targets],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    assert _check_all_or_nothing(settings, embedder, targets, before, ALICE[:2]) == "applied"


@pytest.mark.slow
def test_killed_at_random_moments(settings, embedder):
    rng = random.Random(7)
    s, before, texts = _prepare(settings, embedder)
    states = []
    pool = [s.alice[:2], s.alice[2:4], s.corpus[:2], s.corpus[2:4], s.corpus[4:6]]
    for targets in pool:
        proc = subprocess.Popen([sys.executable, str(WORKER), str(settings.home), "slow", "0.2", *targets],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        states.append(_check_all_or_nothing(settings, embedder, targets, before, [texts[t] for t in targets]))
        with App(settings, embedder=embedder) as a:  # next round starts from the new state
            before = {m.id: m.content_hash for m in a.memories.iter_all()}
            a.conn.execute("DELETE FROM audit_log")  # one receipt per round is checked above
            a.conn.execute("DELETE FROM meta WHERE key = 'audit.head'")
    assert len(states) == 5, states
    print("states after random kills:", states)
