"""`memoryd bench trust`: honest workloads next to the attacks, trust on and off, one table.

Each honest workload (``bench/honest_workloads.py``, generated independently of the attack
generator) runs on its own App and SQLite file with the real embedding model (batched ahead
of time, as in ``bench poison``) and a simulated clock; every write and recall goes through
MemoryService and the trust listener / read policy, one call at a time unless said otherwise.

honest workloads (targets: false quarantine <= 0.5 %, recall@5 drop <= 1 point):
  dev-notes      one agent: N templated distinct notes one at a time on day 0 (one template
                 over many services at a time, a write every 50 ms), then 2N by bulk
                 import (the same agent), then N/2 more one at a time over 5 simulated days
  terse-dump     one agent: N notes from six short templates, a write every 50 ms (the
                 journey's shape: most notes have near-duplicates among its recent ones)
  quoting        the operator imports notes, two agents write more; four readers recall them
                 by quoting (first five words + "?", nearly verbatim, the whole note + "?")
  conversation   LoCoMo-dev turns logged one at a time by one agent, all sessions at once,
                 a turn every 50 ms (hit@5 of its questions)
  jsonl-import   the operator imports a JSONL export with a few odd lines
attacks (target: success <= 5 %):
  silence        an established cohort of 3 agents tries to hide or demote a victim's
                 memories through reads, harmful/wrong feedback and praising each other
  poison:*       `bench poison`'s attacks (PoisonedRAG, Sybil, sleepers, trigger), run smaller
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

from ..app import App, shared_embedder
from ..config import Settings
from ..models import NewMemory, Provenance, SearchFilters
from ..services.memories import SearchOptions
from ..services.porting import parse_jsonl
from . import honest_workloads as W
from .harness import PrecomputedEmbedder, Progress, SimClock, bench_home, fresh_settings
from .poison_bench import run_poison_bench

__all__ = ["run_trust_bench"]

T0 = 1_700_000_000.0
DAY = 86_400.0
MCP = "mcp"
OPERATOR = Provenance("cli", tool="cli")


class _Run:
    """One workload's App on its own file."""

    def __init__(self, name: str, workdir: Path, settings: Settings, emb: PrecomputedEmbedder):
        self.clock = SimClock(T0)
        self.app = App(fresh_settings(settings, workdir, f"{name}.db"), embedder=emb, clock=self.clock)

    def write(self, agent: str, text: str, ns: str = "default", step: float = 2.0) -> str:
        self.clock.now += step
        return self.app.memories.remember(NewMemory(text, namespace=ns, provenance=Provenance(agent, tool=MCP))).memory.id

    def hit(self, query: str, want: set[str], trust: bool, ns: str | None = None, k: int = 5) -> bool:
        f = SearchFilters(namespaces=(ns,)) if ns else SearchFilters()
        hits = self.app.memories.search(query, f, SearchOptions(limit=max(k, 10), trust=trust))
        return any(h.memory.id in want for h in hits[:k])

    def quarantined(self) -> int:
        return len(self.app.trust.quarantined())

    def close(self) -> None:
        self.app.close()


def _row(name: str, kind: str, metric: str, n: int, off: float, on: float, fq: float | None = None) -> dict:
    if kind == "honest":
        drop = round(100 * (off - on), 2)
        met = drop <= 1.0 and (fq is None or fq <= 0.005)
        target = "drop <= 1 pt, false quarantine <= 0.5 %"
    else:
        drop, met, target = None, on <= 0.05, "success <= 5 %"
    return {"workload": name, "kind": kind, "metric": metric, "n": n, "trust_off": round(off, 4),
            "trust_on": round(on, 4), "drop_points": drop, "false_quarantine": None if fq is None else round(fq, 5),
            "target": target, "met": met}


def _recall(run: _Run, cases: list[tuple[str, set[str]]], ns_of: Callable[[int], str | None] = lambda i: None,
            k: int = 5) -> tuple[float, float]:
    off = sum(run.hit(q, w, False, ns_of(i), k) for i, (q, w) in enumerate(cases)) / max(1, len(cases))
    on = sum(run.hit(q, w, True, ns_of(i), k) for i, (q, w) in enumerate(cases)) / max(1, len(cases))
    return off, on


def _dev_notes(run: _Run, emb, n: int, seed: int) -> dict:
    notes = W.dev_notes(n + 2 * n + n // 2, seed)
    emb.warm([x.text for x in notes] + [x.question for x in notes])
    first, bulk, later = notes[:n], notes[n : 3 * n], notes[3 * n :]
    first = sorted(first, key=lambda x: x.key)  # a day-0 dump: one template over many services at a time
    ids = {}
    for x in first:  # day 0, one at a time, as fast as MCP allows (bursts included)
        ids[x.key] = run.write("dev-agent", x.text, step=0.05)
    run.clock.now += 60
    res = run.app.memories.remember_many([NewMemory(x.text, provenance=Provenance("dev-agent", tool=MCP)) for x in bulk])
    ids.update({x.key: r.memory.id for x, r in zip(bulk, res)})
    for i, x in enumerate(later):  # then more over five simulated days
        run.clock.now = max(run.clock.now, T0 + (1 + 5 * i / len(later)) * DAY)
        ids[x.key] = run.write("dev-agent", x.text)
    sample = random.Random(seed).sample(notes, min(300, len(notes)))
    off, on = _recall(run, [(x.question, {ids[x.key]}) for x in sample])
    return _row("dev-notes", "honest", "recall@5", len(notes), off, on, run.quarantined() / len(notes))


def _terse(run: _Run, emb, n: int, seed: int) -> dict:
    notes = W.terse_notes(n)
    emb.warm([x.text for x in notes] + [x.question for x in notes])
    ids = {x.key: run.write("dump-agent", x.text, step=0.05) for x in notes}  # as fast as MCP allows
    sample = random.Random(seed).sample(notes, min(300, len(notes)))
    off, on = _recall(run, [(x.question, {ids[x.key]}) for x in sample])
    return _row("terse-dump (6 templates)", "honest", "recall@5", len(notes), off, on, run.quarantined() / len(notes))


def _quoting(run: _Run, emb, n: int, seed: int) -> dict:
    rng = random.Random(seed)
    notes = W.dev_notes(n, seed + 1)
    emb.warm([x.text for x in notes])
    third = len(notes) // 3
    res = run.app.memories.remember_many([NewMemory(x.text, provenance=OPERATOR) for x in notes[:third]])
    ids = {x.key: r.memory.id for x, r in zip(notes[:third], res)}
    for i, x in enumerate(notes[third:]):
        ids[x.key] = run.write(f"writer-{i % 2}", x.text)
    quotes = W.quoting_queries(rng.sample(notes, min(240, len(notes))), rng)
    emb.warm([q for q, _ in quotes])
    for q, _ in quotes:  # four readers' calls, before measuring (a recall carries no identity to trust)
        run.clock.now += 30
        run.app.memories.search(q, opts=SearchOptions(limit=5))
    off, on = _recall(run, [(q, {ids[x.key]}) for q, x in quotes])
    return _row("quoting-readers", "honest", "recall@5", len(quotes), off, on, run.quarantined() / len(notes))


def _conversation(run: _Run, emb, limit_turns: int | None) -> dict | None:
    if not W.LOCOMO_PATH.exists():
        return None
    turns, questions = W.locomo_turns()
    if limit_turns:
        convs = []
        for t in turns:
            if t.conv not in convs:
                convs.append(t.conv)
        keep, total = set(), 0
        for c in convs:
            size = sum(1 for t in turns if t.conv == c)
            if total + size > limit_turns and keep:
                break
            keep.add(c)
            total += size
        turns = [t for t in turns if t.conv in keep]
        questions = [q for q in questions if q[0] in keep]
    emb.warm([t.text for t in turns] + [q for _, q, _ in questions])
    ids: dict[tuple[str, str], str] = {}
    for t in turns:  # the whole history logged at once, as fast as MCP allows (the case)
        ids[(t.conv, t.dia_id)] = run.write("scribe", t.text, ns=t.conv, step=0.05)
    cases = [(q, {ids[(c, e)] for e in ev if (c, e) in ids}) for c, q, ev in questions]
    nss = [c for c, _, _ in questions]
    off, on = _recall(run, cases, lambda i: nss[i])
    return _row("conversation", "honest", "hit@5", len(turns), off, on, run.quarantined() / len(turns))


def _jsonl(run: _Run, emb, n: int, seed: int) -> dict:
    rng = random.Random(seed)
    notes = W.dev_notes(n, seed + 2)
    raw, odd = W.odd_jsonl(notes, rng)
    items, errors = parse_jsonl(raw, default_provenance=OPERATOR, max_bytes=run.app.settings.max_content_bytes)
    assert not errors, errors
    emb.warm([i.content for i in items] + [x.question for x in notes])
    res = run.app.memories.remember_many(items)
    ids = {r.memory.content: r.memory.id for r in res}
    sample = rng.sample(notes, min(300, len(notes)))
    off, on = _recall(run, [(x.question, {ids[x.text]}) for x in sample])
    return _row("jsonl-import (operator)", "honest", "recall@5", len(items), off, on,
                run.quarantined() / max(1, len(set(ids.values()))))


def _silence(run: _Run, emb, n: int, seed: int) -> dict:
    """An established cohort tries to silence an established victim: reads, feedback, praise."""
    rng = random.Random(seed)
    notes = W.dev_notes(n, seed + 3)
    emb.warm([x.text for x in notes] + [x.question for x in notes])
    quotes = W.quoting_queries(notes, rng)
    emb.warm([q for q, _ in quotes])
    victim_notes, other = notes[: n // 2], notes[n // 2 :]
    cohort = ["crow-1", "crow-2", "crow-3"]
    ids, mine = {}, {a: [] for a in cohort}
    for i, x in enumerate(victim_notes):  # both sides build a standing over four days
        run.clock.now = T0 + 4 * DAY * i / len(victim_notes)
        ids[x.key] = run.write("victim", x.text, step=0)
        y = other[i] if i < len(other) else None
        if y is not None:
            a = cohort[i % 3]
            mine[a].append(run.write(a, y.text, step=1))
    run.clock.now += DAY
    run.app.trust.sweep()
    targets = rng.sample(victim_notes, min(40, len(victim_notes)))
    for a in cohort:  # cohort trick: praise each other, everything
        for b in cohort:
            if a != b:
                for mid in mine[b][:30]:
                    run.clock.now += 5
                    run.app.trust.feedback(mid, "useful", agent_id=a)
    for x in targets:
        q = next(q for q, y in quotes if y is x)
        for a in cohort:  # reads: quote it, ask its question; then complain about it
            run.clock.now += 5
            run.app.memories.search(q, opts=SearchOptions(limit=5))
            run.app.memories.search(x.question + "?", opts=SearchOptions(limit=5))
            run.app.trust.feedback(ids[x.key], "harmful", agent_id=a)
            run.app.trust.feedback(ids[x.key], "wrong", agent_id=a)
    run.clock.now += 3600
    off_found, on_found = _recall(run, [(x.question, {ids[x.key]}) for x in targets])
    hidden = sum(run.app.trust.memory_trust(ids[x.key]).quarantined for x in targets)
    row = _row("silence (reads + feedback + cohort)", "attack", "victim hidden or out of top 5", len(targets),
               1 - off_found, 1 - on_found)
    row["victim_trust"] = round(run.app.trust.agent_trust("victim").mean, 4)
    row["victim_hidden"] = hidden
    return row


def run_trust_bench(
    n: int = 1000,
    *,
    poison_n: int = 1500,
    poison_targets: int = 20,
    conversation_turns: int | None = None,
    seed: int = 0,
    settings: Settings | None = None,
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> dict:
    """``n``: notes written one at a time on day 0 by the dev-notes agent (the other honest
    workloads scale with it); ``poison_n`` 0 skips the poison attacks."""
    started = time.perf_counter()
    settings = settings or Settings.load()
    emb = PrecomputedEmbedder(shared_embedder(settings.resolved_model_path()).wait_ready())
    rows: list[dict] = []
    steps: list[tuple[str, Callable[[_Run], dict | None]]] = [
        ("dev-notes", lambda r: _dev_notes(r, emb, n, seed)),
        ("terse", lambda r: _terse(r, emb, n, seed)),
        ("quoting", lambda r: _quoting(r, emb, max(300, n), seed)),
        ("conversation", lambda r: _conversation(r, emb, conversation_turns)),
        ("jsonl", lambda r: _jsonl(r, emb, max(300, 2 * n), seed)),
        ("silence", lambda r: _silence(r, emb, max(200, n // 2), seed)),
    ]
    with bench_home(workdir, "memoryd-trustbench-") as home:
        for i, (name, fn) in enumerate(steps):
            if progress:
                progress(name, i, len(steps) + 1)
            t = time.perf_counter()
            run = _Run(name, home, settings, emb)
            try:
                row = fn(run)
            finally:
                run.close()
            if row is not None:
                row["seconds"] = round(time.perf_counter() - t, 1)
                rows.append(row)
        if poison_n:
            if progress:
                progress("poison", len(steps), len(steps) + 1)
            p = run_poison_bench(poison_n, n_targets=poison_targets, n_queries=100, seed=seed,
                                 settings=settings, workdir=home / "poison")
            off, on = p["trust_off"]["attack_success_rate"], p["trust_on"]["attack_success_rate"]
            asked = {"poisonedrag": poison_targets, "sybil": 4, "sleeper_poisonedrag": 4, "sleeper_planting": 4,
                     "trigger": max(1, min(3, int(0.001 * poison_n)))}  # target questions per attack (bench poison)
            for attack in sorted(k for k in on if k != "all"):
                rows.append(_row(f"poison: {attack}", "attack", "poisoned memory in top 5", asked.get(attack, 0),
                                 off[attack], on[attack]))
            rows.append(_row("poison: honest agents", "honest", "clean recall@5", p["trust_on"]["clean_queries"],
                             p["trust_off"]["clean_recall@5"], p["trust_on"]["clean_recall@5"],
                             p["quarantine"]["honest_false_quarantine_rate"]))
    return {"rows": rows, "all_met": all(r["met"] for r in rows), "seed": seed, "n": n,
            "runtime_s": round(time.perf_counter() - started, 1)}
