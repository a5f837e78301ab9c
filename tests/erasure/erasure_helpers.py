"""Helpers for erasure tests: a small store with canary memories about synthetic people,
and a raw-bytes grep over every file memoryd owns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from corpus_helpers import make_corpus
from memoryd.models import NewMemory, Provenance

# Canaries: distinctive strings that appear only in the memories they belong to.
ALICE = [
    "Alice Novák asked to move the Zyxquor offsite to Brno; her phone is +420 601 555 873.",
    "Met A. Novak at the Plumbrix kickoff, she owns the quarterly Vandelmoor report.",
    "Novak, Alice signed the NDA for project Quillotine on Tuesday.",
    "anovak opened PR 8812 fixing the Frobnitz exporter.",
    "Reminder: email alice.novak@example.com the Glimmerstack invoice.",
]
BEN = ["Ben Novak owns the billing worker and the Snorkelwave cron."]
ALICIA = ["Alicia Novak from legal reviews the Trundlebeck contract."]
OTHER = ["The api gateway of orion-ledger listens on port 8080 behind nginx."]


@dataclass
class Seeded:
    alice: list[str]  # memory ids
    ben: list[str]
    alicia: list[str]
    other: list[str]
    corpus: list[str]


def seed(app, *, corpus: int = 40, alicia: bool = False) -> Seeded:
    prov = Provenance(agent_id="tester")

    def add(texts, ns="people", agent=None):
        p = Provenance(agent_id=agent) if agent else prov
        res = app.memories.remember_many([NewMemory(t, namespace=ns, provenance=p) for t in texts])
        return [r.memory.id for r in res]

    docs = make_corpus(corpus, 0, 1).docs if corpus else []
    return Seeded(
        alice=add(ALICE),
        ben=add(BEN),
        alicia=add(ALICIA) if alicia else [],
        other=add(OTHER, ns="infra", agent="ops-bot"),
        corpus=add([d.text for d in docs], ns="notes"),
    )


def owned_files(settings) -> list[Path]:
    home = Path(settings.home)
    files = [p for p in home.rglob("*") if p.is_file()]
    db = Path(settings.db_path)
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(db) + suffix)
        if p.exists() and p not in files:
            files.append(p)
    return files


def raw_hits(settings, needles: list[str], extra: list[Path] = ()) -> dict[str, int]:
    """{needle: occurrences} over the raw bytes of every file under home (+ extra files)."""
    out: dict[str, int] = {}
    blobs = [p.read_bytes() for p in [*owned_files(settings), *extra] if p.exists()]
    for n in needles:
        b = n.encode("utf-8")
        c = sum(blob.count(b) for blob in blobs)
        if c:
            out[n] = c
    return out
