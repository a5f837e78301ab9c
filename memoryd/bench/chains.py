"""Multi-hop chains for `memoryd bench graph` (and the graph tests): two memories joined by
an identifier (a batch job, an archive path, a dashboard URL, a Python module) and one
question that names only the first memory's subject and asks for a fact only the second
one holds. Keyword and vector search find the first; only a graph link brings up the
second. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .corpus import Doc, make_corpus

__all__ = ["Chain", "make_chains"]

_W1 = ("tangelo basalt cinder juniper marlin osprey pewter quill russet saffron talon umbra "
       "vellum wicket yucca acorn bramble cobble dapple fennel garnet heron ivory kestrel").split()
_W2 = ("forge loom mill kiln press sieve spindle anvil lathe bellows crucible ladle chisel "
       "drill funnel hopper mortar pestle rasp scythe").split()
_PEOPLE = ("Wren Castillo, Yusuf Demir, Zofia Krawiec, Aarav Mehta, Bea Lindqvist, Cyrus Farahani, "
           "Delia Moss, Eitan Barak, Fleur Janssen, Gideon Achterberg").split(", ")
_CLUSTERS = "atlas-east borealis-2 cassini-west drift-7 eon-central".split()
_TEAMS = "sre-core data-platform payments-oncall search-infra edge-team".split()


@dataclass(frozen=True)
class Chain:
    first: Doc  # found by the question
    second: Doc  # holds the answer; linked to `first` by a shared identifier only
    question: str


def make_chains(n: int, seed: int = 0) -> list[Chain]:
    """``n`` two-memory chains over the corpus's projects and components (deterministic)."""
    base = make_corpus(max(n, 1), 0, seed + 7).docs  # borrows realistic (project, component) pairs
    rng = random.Random(seed + 11)
    used: set[str] = set()
    out: list[Chain] = []
    for i in range(n):
        d = base[i % len(base)]
        proj, comp = d.project, d.component
        while True:
            code = f"{rng.choice(_W1)}_{rng.choice(_W2)}_{rng.randint(10, 99)}"
            if code not in used:
                used.add(code)
                break
        person, num = rng.choice(_PEOPLE), rng.randint(3, 90)
        kind = i % 4
        if kind == 0:
            a = f"The {comp} of {proj} hands its nightly export to the batch job {code}."
            b = f"Batch job {code} runs on the {rng.choice(_CLUSTERS)} cluster; when it fails it pages {person}."
            q = f"who gets paged when the nightly export of the {comp} in {proj} fails?"
        elif kind == 1:
            path = f"/srv/archive/{code}/"
            a = f"{proj}'s {comp} archives its audit logs under {path}"
            b = f"Everything under {path} is kept for {num} days, then purged by {person}'s retention script."
            q = f"how long are the audit logs of the {comp} in {proj} kept?"
        elif kind == 2:
            url = f"https://grafana.example.net/d/{code.replace('_', '-')}"
            a = f"Latency of the {comp} in {proj} is charted on {url}"
            b = f"The dashboard {url} alerts the {rng.choice(_TEAMS)} channel when p99 exceeds {num * 10} ms."
            q = f"what p99 latency triggers an alert for the {comp} of {proj}?"
        else:
            mod = f"retrykit.{code}"
            a = f"In {proj} the {comp} delegates retries to the module {mod}."
            b = f"{mod} gives up after {num % 9 + 2} attempts with exponential backoff capped at {num} seconds."
            q = f"after how many attempts does the {comp} in {proj} stop retrying?"
        topic = f"chain{kind}"
        out.append(Chain(Doc(f"chain/{i}/a", a, topic, proj, comp), Doc(f"chain/{i}/b", b, topic, proj, comp), q))
    return out
