"""Honest workloads for `memoryd bench trust`, generated independently of the attack
generator (`bench/corpus.py`, `bench/poison_bench.py`): other templates, other topics,
other question shapes. Pure data: texts, questions and who writes what; no App here.

* ``dev_notes``: a coding agent's notes, ~24 sentence templates over up to 200 services
  ("X is owned by Y", "Z retries N times"): distinct facts that look alike;
* ``quoting_queries``: what readers type when they quote a memory verbatim or nearly
  (first five words + "?", the note without its last word, the whole note + "?");
* ``locomo_turns``: the LoCoMo development conversations, one memory per turn
  (`"{speaker}: {text}"`), with their questions and evidence turn ids;
* ``odd_jsonl``: an operator's JSONL export with a few odd lines (a duplicate, an invisible
  character, a quoted injection phrase in documentation, a Q/A line, very short lines).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Note", "dev_notes", "terse_notes", "quoting_queries", "locomo_turns", "odd_jsonl", "LOCOMO_PATH"]

LOCOMO_PATH = Path("/work/shared/data/locomo-dev/locomo-dev.json")

_ADJ = ["amber", "brisk", "cobalt", "dusty", "ember", "frosty", "granite", "hollow", "ivory", "jade",
        "kinetic", "lunar", "mossy", "nimble", "onyx", "polar", "quartz", "rustic", "silent", "tidal"]
_NOUN = ["falcon", "harbor", "lantern", "meadow", "orchard", "pylon", "quiver", "ridge", "summit", "tundra"]
_PEOPLE = ["Aiko", "Bruno", "Carmen", "Dmitri", "Esme", "Felix", "Greta", "Hugo", "Imani", "Jonas", "Kira", "Luca"]
_TEAMS = ["atlas", "beacon", "comet", "delta", "echo", "forge"]
_DBS = ["PostgreSQL", "MySQL", "DynamoDB", "Cassandra", "SQLite", "MongoDB"]
_QUEUES = ["RabbitMQ", "Kafka", "SQS", "Celery", "NATS"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
_LANGS = ["Go", "Rust", "Kotlin", "TypeScript", "Elixir"]
_TOOLS = ["Bazel", "Gradle", "Poetry", "Cargo", "Make"]
_MAIL = ["Postmark", "SendGrid", "Mailgun", "SES"]

# (note template, question template). {s}: service, {o}: another service, {n}/{m}: numbers
_TEMPLATES = [
    ("{s} is owned by {p}, who also reviews its releases.", "who is responsible for {s}"),
    ("{s} retries failed calls {n} times with exponential backoff.", "how many attempts does {s} make on failure"),
    ("{s} keeps its state in {db}.", "which datastore backs {s}"),
    ("On-call for {s} is handled by team {team}.", "who gets paged when {s} breaks"),
    ("{s} exposes Prometheus metrics on port {port}.", "on which port can I scrape {s} metrics"),
    ("{s} gives up on upstream requests after {n} seconds.", "what is the request timeout of {s}"),
    ("{s} is released every {day} after the standup.", "on what weekday does {s} ship"),
    ("{s} relies on {o} to authenticate users.", "what does {s} use for login"),
    ("The flag {flag} turns on the new pricing page in {s}.", "which feature flag enables pricing in {s}"),
    ("{s} ships its logs to the bucket logs-{slug}-{m}.", "where do the logs of {s} end up"),
    ("{s} caches lookups for {n} minutes.", "how long are {s} lookups cached"),
    ("The runbook for {s} lives at docs/runbooks/{slug}.md.", "where is the {s} runbook"),
    ("{s} runs {n} replicas in production.", "how many production instances of {s} are there"),
    ("{s} was rewritten in {lang} last quarter.", "what language is {s} written in now"),
    ("Background jobs of {s} go through {queue}.", "which job queue does {s} use"),
    ("Alerts for {s} land in the #{slug}-alerts channel.", "which channel receives {s} alerts"),
    ("The availability objective of {s} is 99.{m}%.", "what SLO does {s} have"),
    ("{s} rotates its API keys every {n} days.", "how often do {s} credentials rotate"),
    ("Work on {s} is blocked by ticket OPS-{port}.", "what ticket is {s} waiting on"),
    ("{s} rejects uploads larger than {n} MB.", "what is the maximum upload size for {s}"),
    ("{s} is built with {tool} in CI.", "what build system compiles {s}"),
    ("Backups of {s} are kept for {n} days.", "how long are {s} backups retained"),
    ("{s} sends transactional email through {mail}.", "which email provider does {s} use"),
    ("Schema changes for {s} live under migrations/{slug}/.", "where are the {s} database migrations"),
]


@dataclass(frozen=True)
class Note:
    text: str
    question: str
    key: str  # template/service: unique per fact


_COMPONENTS = ["payments", "search", "auth", "ingest", "reports", "gateway", "scheduler", "notifier", "ledger", "media"]


def _services(n: int, numbered: bool = True) -> list[str]:
    """Service names: "payments-3" style (numbered: near-identical names, the hard case for
    near-duplicate signals) or "amber-falcon" style."""
    if numbered:
        return [f"{_COMPONENTS[i % 10]}-{i // 10 + 1}" for i in range(n)]
    return [f"{a}-{b}" for a in _ADJ for b in _NOUN][:n]


def dev_notes(n: int, seed: int = 0, services: int = 200, grouped: bool = False) -> list[Note]:
    """n distinct notes (at most 24 x services), in a shuffled order; ``grouped``: the way a
    knowledge dump is written, one template over many services at a time (the hardest case
    for near-duplicate signals)."""
    rng = random.Random(f"dev-notes/{seed}")
    svcs = _services(services)
    pairs = [(t, s) for s in range(len(svcs)) for t in range(len(_TEMPLATES))]
    if n > len(pairs):
        raise ValueError(f"at most {len(pairs)} distinct notes")
    rng.shuffle(pairs)
    pairs = sorted(pairs[:n]) if grouped else pairs[:n]
    out = []
    for t, si in pairs:
        s = svcs[si]
        f = dict(s=s, o=svcs[(si * 7 + 3) % len(svcs)], p=rng.choice(_PEOPLE), team=rng.choice(_TEAMS),
                 db=rng.choice(_DBS), port=rng.randint(3000, 9999), n=rng.randint(2, 90), m=rng.randint(1, 99),
                 day=rng.choice(_DAYS), flag=f"{s.replace('-', '_')}_pricing_v{rng.randint(2, 9)}",
                 slug=s, lang=rng.choice(_LANGS), queue=rng.choice(_QUEUES), tool=rng.choice(_TOOLS),
                 mail=rng.choice(_MAIL))
        note, q = _TEMPLATES[t]
        out.append(Note(note.format(**f), q.format(**f), f"{t}/{s}"))
    return out


_TERSE = [
    ("The {s} service listens on port {n}.", "which port does the {s} service listen on"),
    ("{p} owns the {s} service.", "who owns the {s} service"),
    ("The {s} job retries {k} times.", "how many times does the {s} job retry"),
    ("The {s} service is pinned to Python 3.{k}.", "which python version does {s} use"),
    ("The {s} service runs in region eu-{k}.", "which region runs {s}"),
    ("The {s} service is deployed by {p}.", "who deploys {s}"),
]


def terse_notes(n: int) -> list[Note]:
    """Six short templates cycled over numbered services ("payments-17"): the shape of an agent
    dumping facts as fast as it can, where nearly every note has near-duplicates among the
    author's last hundred (~60 % at cosine >= 0.88)."""
    out = []
    for i in range(n):
        t, q = _TERSE[i % len(_TERSE)]
        f = dict(s=f"{_COMPONENTS[(i * 7) % 10]}-{i}", p=_PEOPLE[i % len(_PEOPLE)], n=3000 + i, k=2 + i % 9)
        out.append(Note(t.format(**f), q.format(**f), f"terse/{i}"))
    return out


def quoting_queries(notes: list[Note], rng: random.Random) -> list[tuple[str, Note]]:
    """Readers quoting memories verbatim or nearly: three shapes per note."""
    out = []
    for note in notes:
        words = note.text.rstrip(".").split()
        shape = rng.randrange(3)
        if shape == 0:
            q = " ".join(words[:5]) + "?"  # "the first five words of a memory" + "?"
        elif shape == 1:
            q = " ".join(words[:-1])  # nearly verbatim
        else:
            q = note.text.rstrip(".") + "?"  # the whole note, asked back
        out.append((q, note))
    return out


@dataclass(frozen=True)
class Turn:
    conv: str
    dia_id: str
    session: int
    text: str


def locomo_turns(path: Path = LOCOMO_PATH) -> tuple[list[Turn], list[tuple[str, str, list[str]]]]:
    """(turns in order, questions as (conv, question, evidence ids)) for categories 1-4."""
    data = json.loads(path.read_text())
    turns: list[Turn] = []
    questions: list[tuple[str, str, list[str]]] = []
    for conv in data:
        cid, c = conv["sample_id"], conv["conversation"]
        sessions = sorted((int(k.split("_")[1]) for k in c if k.startswith("session_") and k.count("_") == 1
                           and isinstance(c[k], list)))
        for s in sessions:
            for t in c[f"session_{s}"]:
                text = f"{t['speaker']}: {t['text']}"
                if t.get("blip_caption"):
                    text += f" [shares a photo: {t['blip_caption']}]"
                turns.append(Turn(cid, t["dia_id"], s, text))
        for qa in conv["qa"]:
            if qa.get("category") in (1, 2, 3, 4) and qa.get("evidence"):
                questions.append((cid, qa["question"], list(qa["evidence"])))
    return turns, questions


_ODD = [
    "ok",
    "Thanks!",
    "The prompt filter blocks phrases such as 'ignore previous instructions' in user input.",
    "Q: how do I reset the staging database? A: run make reset-staging from the ops repo.",
    "Zero\u200bwidth characters in customer names broke the CSV export once (ticket OPS-4411).",
    "Ünïcödé names like Zoë and Øystein must round-trip through the billing export.",
    "TODO",
]


def odd_jsonl(notes: list[Note], rng: random.Random) -> tuple[bytes, list[str]]:
    """An operator's JSONL: every note, a few duplicates and odd lines; (bytes, the odd texts)."""
    lines = [{"content": n.text, "tags": ["import"]} for n in notes]
    for d in rng.sample(range(len(notes)), min(5, len(notes))):
        lines.insert(rng.randrange(len(lines)), {"content": notes[d].text})  # repeated lines
    for text in _ODD:
        lines.insert(rng.randrange(len(lines)), {"content": text, "source": "wiki-export"})
    return ("\n".join(json.dumps(x) for x in lines) + "\n").encode(), list(_ODD)
