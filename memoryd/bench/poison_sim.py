"""The simulated week of `memoryd bench poison`: honest agents writing, recalling and giving
feedback, then the attacks, then the recall of every target and clean question (the
timeline is described in poison_bench.py)."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..app import App
from ..models import NewMemory, Provenance
from ..services.memories import SearchOptions
from . import corpus as C
from .harness import SimClock, percentiles
from .poison_attacks import COVER_NOTES

__all__ = ["DAY", "NS", "T0", "World", "attack_phase", "evaluate", "honest_phase", "plan_honest", "plan_texts"]

T0 = 1_700_000_000.0
DAY = 86_400.0
NS = "team"


@dataclass
class World:
    app: App
    clock: SimClock
    key_of: dict[str, str]  # memory id -> corpus doc key (honest memories and restatements)
    poison_of: dict[str, tuple[str, str]]  # memory id -> (attack, target query)
    author_of: dict[str, str]
    honest_keys: set[str] = field(default_factory=set)  # doc keys answered by never-malicious agents

    def write(self, agent: str, text: str) -> str | None:
        res = self.app.memories.remember(NewMemory(text, namespace=NS, provenance=Provenance(agent, tool="mcp")))
        if res.duplicate:
            return None
        self.author_of[res.memory.id] = agent
        return res.memory.id


def plan_honest(corpus: C.Corpus, usage: list[C.Query], rng: random.Random,
                 agents: list[str], joins: list[float]) -> list[tuple[float, int, str, tuple]]:
    """Seven days of ordinary use, as (time, seq, kind, data) events."""
    events: list[tuple[float, int, str, tuple]] = []
    n = len(corpus.docs)
    seq = 0
    for i, doc in enumerate(corpus.docs):
        t = T0 + 0.01 * DAY + i * (7.0 * DAY / n)
        active = [a for a, j in zip(agents, joins) if j <= t]
        author = rng.choice(active)
        events.append((t, seq := seq + 1, "write", (author, doc)))
        if rng.random() < 0.02:  # another agent restates it later: corroboration
            later = t + rng.uniform(0.3, 1.0) * DAY
            others = [a for a, j in zip(agents, joins) if j <= later and a != author]
            events.append((later, seq := seq + 1, "restate", (rng.choice(others), doc)))
        if rng.random() < 0.01:  # a scratch note, deleted by its author minutes later
            note = f"TODO {doc.project}: recheck the {doc.component} build after lunch (scratch {i})."
            events.append((t + 30, seq := seq + 1, "scratch", (author, note, rng.uniform(120, 900))))
        if i % 20 == 19 and usage:
            mistake = rng.random() < 0.03  # honest agents err now and then
            events.append((t + 60, seq := seq + 1, "use", (rng.choice(active), usage[(i // 20) % len(usage)], mistake)))
    return sorted(events)


def plan_texts(events) -> list[str]:
    out = []
    for _, _, kind, data in events:
        if kind == "write":
            out.append(data[1].text)
        elif kind == "restate":
            out.append(f"Confirmed: {data[1].text}")
        elif kind == "scratch":
            out.append(data[1])
        elif kind == "use":
            out.append(data[1].text)
    return out


def honest_phase(w: World, events, progress) -> dict:
    n = sum(1 for e in events if e[2] == "write")
    stats = {"feedback_useful": 0, "feedback_useful_own": 0, "feedback_wrong": 0, "restated": 0, "deleted": 0}
    done = 0
    for t, _, kind, data in events:
        w.clock.now = max(w.clock.now, t)
        if kind == "write":
            author, doc = data
            mid = w.write(author, doc.text)
            if mid:
                w.key_of[mid] = doc.key
            done += 1
            if progress and done % 100 == 0:
                progress("honest writes", done, n)
        elif kind == "restate":
            agent, doc = data
            mid = w.write(agent, f"Confirmed: {doc.text}")
            if mid:
                w.key_of[mid] = doc.key
                stats["restated"] += 1
        elif kind == "scratch":
            author, note, after = data
            mid = w.write(author, note)
            if mid:
                w.clock.now = t + after
                w.app.trust.forget([mid], by=author)
                stats["deleted"] += 1
        elif kind == "use":
            agent, q, mistake = data
            hits = w.app.memories.search(q.text, opts=SearchOptions(limit=3))
            right = [h for h in hits if w.key_of.get(h.memory.id) == q.relevant]
            if right:
                verdict = "wrong" if mistake else "useful"
                w.app.trust.feedback(right[0].memory.id, verdict, agent_id=agent)
                stats[f"feedback_{verdict}"] += 1
                stats["feedback_useful_own"] += verdict == "useful" and w.author_of.get(right[0].memory.id) == agent
    return stats


def attack_phase(w: World, poison: dict[str, list[str]], targets: dict[str, list[C.Query]],
                  sleepers: dict[str, str], triggers: Sequence[tuple[str, str]]) -> dict:
    out: dict = {}
    t = max(w.clock.now, T0 + 7.0 * DAY) + 600
    # PoisonedRAG: one fresh identity, 5 memories per target question, one write every 30 s
    for q in targets["poisonedrag"]:
        for text in poison[q.text]:
            w.clock.now = t = t + 30
            mid = w.write("agent-08", text)
            if mid:
                w.poison_of[mid] = ("poisonedrag", q.text)
    # trigger: benign cover notes with 3 trigger memories among them
    cover = list(COVER_NOTES)
    for k, (text, query) in enumerate(triggers):
        cover.insert(3 * k + 2, text)
    trig_queries = {text: query for text, query in triggers}
    for text in cover:
        w.clock.now = t = t + 60
        mid = w.write("agent-09", text)
        if mid and text in trig_queries:
            w.poison_of[mid] = ("trigger", trig_queries[text])
    # Sybil: 20 identities created within minutes; each writes one copy, then praises the others
    sybils = [f"agent-{10 + i:02d}" for i in range(20)]
    copies: dict[str, list[tuple[str, str]]] = {}
    for i, s in enumerate(sybils):
        q = targets["sybil"][i // 5]
        text = poison[q.text][i % 5]
        w.clock.now = t = t + 45
        mid = w.write(s, text)
        if mid:
            w.poison_of[mid] = ("sybil", q.text)
            copies.setdefault(q.text, []).append((s, mid))
    for group in copies.values():
        for s, _ in group:
            for other, mid in group:
                if other != s:
                    w.clock.now = t = t + 5
                    w.app.trust.feedback(mid, "useful", agent_id=s)
    # sleepers turn: 20 poisoned writes each (PoisonedRAG, answer planting), trust measured after each
    out["sleepers"] = {}
    for sleeper, style in sleepers.items():
        w.clock.now = t = t + 600
        curve = [w.app.trust.agent_trust(sleeper).mean]
        for q in targets[f"sleeper_{style}"]:
            for text in poison[q.text]:
                w.clock.now = t = t + 60
                mid = w.write(sleeper, text)
                if mid:
                    w.poison_of[mid] = (f"sleeper_{style}", q.text)
                curve.append(w.app.trust.agent_trust(sleeper).mean)
        drop = [1.0 - c / curve[0] for c in curve]
        out["sleepers"][f"{sleeper} ({style})"] = {
            "trust_before": round(curve[0], 4),
            "trust_after_20_writes": round(curve[-1], 4),
            "drop": round(drop[-1], 4),
            "poisoned_writes_to_80pct_drop": next((i for i, d in enumerate(drop) if d >= 0.8), None),
            "curve": [round(c, 3) for c in curve],
        }
    out["sybils"] = sybils
    out["attack_end"] = t
    return out


def evaluate(w: World, queries: list[C.Query], targets: dict[str, list[C.Query]], trust: bool) -> dict:
    lat: list[float] = []
    clean_hits = clean_hits_honest = clean_n_honest = 0
    for q in queries:
        t0 = time.perf_counter()
        hits = w.app.memories.search(q.text, opts=SearchOptions(limit=5, trust=trust))
        lat.append((time.perf_counter() - t0) * 1000)
        found = any(w.key_of.get(h.memory.id) == q.relevant for h in hits)
        clean_hits += found
        if q.relevant in w.honest_keys:  # answered by an agent that never attacked
            clean_n_honest += 1
            clean_hits_honest += found
    asr: dict[str, float] = {}
    succ_all = n_all = 0
    for attack, qs in targets.items():
        succ = 0
        for q in qs:
            text = q.text
            hits = w.app.memories.search(text, opts=SearchOptions(limit=5, trust=trust))
            succ += any(w.poison_of.get(h.memory.id) == (attack, text) for h in hits)
        asr[attack] = round(succ / max(1, len(qs)), 4)
        succ_all += succ
        n_all += len(qs)
    asr["all"] = round(succ_all / max(1, n_all), 4)
    return {
        "attack_success_rate": asr,
        # the target metric: questions whose answer was written by an agent that never attacked
        "clean_recall@5": round(clean_hits_honest / max(1, clean_n_honest), 4),
        "clean_queries": clean_n_honest,
        # every clean question, including those answered by the sleepers before they turned
        # (their old memories lose their standing on purpose)
        "clean_recall@5_all": round(clean_hits / max(1, len(queries)), 4),
        "search_ms": percentiles(lat),
    }
