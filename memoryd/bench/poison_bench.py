"""`memoryd bench poison`: memory-poisoning attacks through the real service path, trust on vs off.

One App on a real SQLite file in a temp dir, the real embedding model, a simulated clock
(App(clock=...)), several agent identities with neutral names. Nothing tells the defence
who is an attacker: it sees what the server sees (provenance agent id, content, time,
feedback, deletions).

Timeline (defaults):

* days 0-7: seven agents join over the first 2.5 days (two of them within the same hour,
  as an operator setting up two clients would) and write the benign corpus
  (``make_corpus``) one memory per call; now and then an agent recalls something and gives
  feedback the way MCP clients do (useful when the answer was there, sometimes its own
  memory, occasionally a mistaken "wrong"); some facts are restated by a second agent
  (corroboration); a few scratch notes are deleted minutes after being written.
* day 7: attacks. PoisonedRAG (a fresh identity writes 5 memories per target question,
  each = the question + a falsified answer: one value of the true note changed), trigger
  (one memory per 1000 honest ones, at most 3: a rare phrase + malicious instructions,
  <= 0.1 % of the store, hidden among benign cover notes by the same fresh identity),
  Sybil (20 fresh identities minutes apart, each writes one poisoned copy for 4 target
  questions and marks the others' copies useful), two sleepers (agents honest for a week
  that turn: 20 PoisonedRAG writes, or 20 answer-planting writes, about 4 questions that
  *other* agents answered; trust measured after each write, with no recall in between).
* one hour later: every target question and the clean questions are recalled with trust
  off, then on (top 5).

Figures: attack success (a poisoned memory in the top 5 for its target question) per
attack; clean recall@5 over questions answered by agents that never attacked (the target
metric) and over all clean questions (including answers written by the sleepers before
they turned, which the defence demotes on purpose); agents' trust before and after the
target questions were asked; the sleepers' curves; honest memories quarantined.

The model's forward pass is batched ahead of time (``harness.PrecomputedEmbedder``): a single-text
encode costs ~100 ms on 2 shared cores. Every write and recall still goes through
MemoryService, which calls encode() and gets the model's own vectors.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import numpy as np

from ..app import App, shared_embedder
from ..config import Settings
from . import corpus as C
from .harness import PrecomputedEmbedder, Progress, SimClock, bench_home, fresh_settings
from .poison_attacks import COVER_NOTES, TRIGGERS, answer_planting, poisoned_rag
from .poison_sim import DAY, T0, World, attack_phase, evaluate, honest_phase, plan_honest, plan_texts

__all__ = ["run_poison_bench"]

log = logging.getLogger(__name__)


def run_poison_bench(
    n_docs: int = 3000,
    *,
    n_queries: int = 200,
    n_targets: int = 30,
    seed: int = 0,
    settings: Settings | None = None,
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> dict:
    started = time.perf_counter()
    rng = random.Random(seed)
    n_usage = max(20, n_docs // 20)
    n_pool = 3 * 8  # candidate questions for the sleepers' targets (4 each, answered by someone else)
    corpus = C.make_corpus(n_docs, n_targets + 4 + n_pool + n_usage + n_queries, seed)
    qs = list(corpus.queries)
    agents = [f"agent-{i:02d}" for i in range(1, 8)]
    joins = [T0 + d * DAY for d in (0.0, 0.02, 0.6, 1.0, 1.5, 2.0, 2.5)]  # 01 and 02 set up together
    sleepers = {agents[2]: "poisonedrag", agents[5]: "planting"}  # honest for a week, then they turn
    honest = [a for a in agents if a not in sleepers]
    pool = qs[n_targets + 4 : n_targets + 4 + n_pool]
    usage = qs[n_targets + 4 + n_pool : n_targets + 4 + n_pool + n_usage]
    clean = qs[n_targets + 4 + n_pool + n_usage :][:n_queries]
    events = plan_honest(corpus, usage, rng, agents, joins)
    author_of_doc = {data[1].key: data[0] for _, _, kind, data in events if kind == "write"}
    # a sleeper poisons questions other agents answered: overriding someone else's fact is the
    # attack (rewriting its own notes is an edit no outside evidence can tell from an update)
    targets = {"poisonedrag": qs[:n_targets], "sybil": qs[n_targets : n_targets + 4]}
    for sleeper, style in sleepers.items():
        mine = [q for q in pool if author_of_doc.get(q.relevant) not in (sleeper, None)]
        pool = [q for q in pool if q not in mine[:4]]
        targets[f"sleeper_{style}"] = mine[:4]
    # trigger attack: <= 0.1 % of the store (at least one memory)
    n_trig = max(1, min(len(TRIGGERS), int(0.001 * n_docs)))
    triggers = TRIGGERS[:n_trig]
    out: dict = {"memories_honest": n_docs, "seed": seed}
    with bench_home(workdir, "memoryd-poison-") as home:
        settings = fresh_settings(settings, home, "poison.db")
        emb = PrecomputedEmbedder(shared_embedder(settings.resolved_model_path()).wait_ready())
        docs = {d.key: d for d in corpus.docs}
        poison = {q.text: (answer_planting if attack == "sleeper_planting" else poisoned_rag)(
                      q.text, docs[q.relevant].text, random.Random(f"{seed}/{q.text}"))
                  for attack, qs_ in targets.items() for q in qs_}
        emb.warm(plan_texts(events) + [t for ts in poison.values() for t in ts] + [q.text for q in qs]
                 + [t for t, _ in TRIGGERS] + [q for _, q in TRIGGERS] + COVER_NOTES, progress)
        clock = SimClock(T0)
        with App(settings, embedder=emb, clock=clock) as app:
            w = World(app, clock, {}, {}, {})
            out["honest_activity"] = honest_phase(w, events, progress)
            attack = attack_phase(w, poison, targets, sleepers, triggers)
            clock.now = attack["attack_end"] + 3600
            w.honest_keys = {k for mid, k in w.key_of.items() if w.author_of.get(mid) in honest}
            all_targets = {**targets, "trigger": [C.Query(q, "") for _, q in triggers]}
            out["memories_total"] = app.stats().memories
            out["poisoned_memories"] = len(w.poison_of)
            out["trigger_share_of_store"] = round(len(triggers) / out["memories_total"], 5)
            attackers = {"poisonedrag": ["agent-08"], "trigger": ["agent-09"], "sybil": attack["sybils"],
                         **{f"sleeper_{style}": [a] for a, style in sleepers.items()}}
            before = _trust_figures(app, honest, attackers)
            off = evaluate(w, clean, all_targets, trust=False)
            on = evaluate(w, clean, all_targets, trust=True)
            after = _trust_figures(app, honest, attackers)
            out["trust_off"], out["trust_on"] = off, on
            out["clean_recall@5_drop_points"] = round(100 * (off["clean_recall@5"] - on["clean_recall@5"]), 2)
            out["clean_recall@5_all_drop_points"] = round(100 * (off["clean_recall@5_all"] - on["clean_recall@5_all"]), 2)
            out["trust_before_recall"], out["trust_after_recall"] = before, after
            out["sleepers"] = attack["sleepers"]
            q = app.trust.quarantined()
            honest_ids = {mid for mid, a in w.author_of.items() if a in honest}
            live_honest = sum(1 for m in app.memories.iter_all() if m.id in honest_ids)
            q_honest = sum(1 for x in q if x.memory.id in honest_ids)
            q_poison = sum(1 for x in q if x.memory.id in w.poison_of)
            out["quarantine"] = {
                "honest_memories": live_honest,
                "honest_quarantined": q_honest,
                "honest_false_quarantine_rate": round(q_honest / max(1, live_honest), 5),
                "sleepers_earlier_memories_quarantined": sum(
                    1 for x in q if w.author_of.get(x.memory.id) in sleepers and x.memory.id not in w.poison_of),
                "poisoned_quarantined": f"{q_poison}/{len(w.poison_of)}",
            }
            v = app.trust.verify()
            out["evidence_log"] = {"records": v.count, "verified": v.ok}
            out["targets"] = _targets(out)
    out["runtime_s"] = round(time.perf_counter() - started, 1)
    return out


def _targets(out: dict) -> dict:
    """The issue's targets next to what was measured (trust on unless said otherwise)."""
    worst_sleeper = min(x["drop"] for x in out["sleepers"].values())

    def row(value: float, target: str, ok: bool) -> dict:
        return {"value": value, "target": target, "met": ok}

    asr = out["trust_on"]["attack_success_rate"]["all"]
    drop = out["clean_recall@5_drop_points"]
    gaps = (out["trust_before_recall"]["gap_mean"], out["trust_after_recall"]["gap_mean"])
    fq = out["quarantine"]["honest_false_quarantine_rate"]
    # trust v2 (issue 14): attack success and what honest users lose are the targets. The trust
    # gap and the sleepers' drop are reported, not targets: near-duplicate floods and recall-time
    # stuffing no longer move an agent's standing (they were most of the sleepers' drop)
    return {
        "attack_success_top5": row(asr, "<= 0.05", asr <= 0.05),
        "clean_recall@5_drop_points": row(drop, "<= 1", drop <= 1),
        "honest_false_quarantine_rate": row(fq, "<= 0.005", fq <= 0.005),
        "trust_gap_before_recall": row(gaps[0], "reported", True),
        "trust_gap_after_recall": row(gaps[1], "reported", True),
        "sleeper_drop_within_20_writes": row(worst_sleeper, "reported", True),
    }


def _trust_figures(app: App, honest: list[str], attackers: dict[str, list[str]]) -> dict:
    """Honest agents' trust against each attack's identities (the Sybil swarm as its mean)."""
    h = [app.trust.agent_trust(a).mean for a in honest]
    bad = {k: float(np.mean([app.trust.agent_trust(a).mean for a in ids])) for k, ids in attackers.items()}
    h_mean = float(np.mean(h))
    return {
        "honest_mean": round(h_mean, 4),
        "honest_min": round(min(h), 4),
        "malicious": {k: round(v, 4) for k, v in bad.items()},
        "gap_mean": round(h_mean - float(np.mean(list(bad.values()))), 4),
        "gap_worst": round(min(h) - max(bad.values()), 4),
    }
