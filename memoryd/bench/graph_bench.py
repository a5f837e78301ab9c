"""`memoryd bench graph`: the knowledge graph through the real service path.

Corpus: ``make_corpus`` developer notes (12 known topics) plus multi-hop *chains*: two
memories joined by an identifier (a batch job, an archive path, a dashboard URL, a Python
module) and one question that names only the first memory's subject and asks for a fact
only the second one holds. Keyword and vector search find the first; the second shares
no distinctive word with the question, so only the link can bring it up.

Figures: ingest, full rebuild (kNN + Leiden + labels) at N, graph time of single-memory
adds (and the whole remember() for context), purity / NMI / ARI of the communities
against the known topics, recall@5 on multi-hop questions (both memories, and each) and
on ordinary questions, with and without expansion.
"""

from __future__ import annotations

import hashlib
import logging
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..app import App
from ..config import Settings
from ..graph import score_communities
from ..models import NewMemory, Provenance
from ..search.bm25 import tokenize as bm25_tokenize
from ..services.memories import SearchOptions
from ..store import erasure as estore
from ..store import graph as gstore
from .corpus import Doc, make_corpus
from .measure import peak_rss_mb, percentiles, recall_mrr

__all__ = ["Chain", "make_chains", "run_graph_bench"]

log = logging.getLogger(__name__)

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


class HashEmbedder:
    """A fast stand-in for the sentence model, for scale runs only (``--embedder hash``):
    each word gets a fixed pseudo-random unit vector (seeded by its hash), a text is the
    normalised sum of its words'. Texts sharing most words score high, as template-mates
    do with the real model; *recall figures from it mean nothing*."""

    name = "hash-bow-384"
    dim = 384

    def __init__(self) -> None:
        self._vocab: dict[str, np.ndarray] = {}

    def _vec(self, word: str) -> np.ndarray:
        v = self._vocab.get(word)
        if v is None:
            seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            self._vocab[word] = v
        return v

    def encode(self, texts, *, batch_size: int = 64, progress=None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in set(bm25_tokenize(t)):
                out[i] += self._vec(w)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return out

    def close(self) -> None:
        pass


def _recall_sets(ranked: list[list[str]], relevant: list[tuple[str, ...]], k: int = 5) -> dict[str, float]:
    """Mean share of the needed memories in the top k, and how often all of them are."""
    share = [len(set(r[:k]) & set(rel)) / len(rel) for r, rel in zip(ranked, relevant)]
    both = [float(set(rel) <= set(r[:k])) for r, rel in zip(ranked, relevant)]
    return {f"recall@{k}": round(float(np.mean(share)), 4), f"all@{k}": round(float(np.mean(both)), 4)}


def run_graph_bench(
    n: int,
    *,
    n_queries: int = 200,
    n_chains: int = 100,
    n_adds: int = 50,
    seed: int = 0,
    workdir: Path | None = None,
    reuse: bool = False,
    settings: Settings | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    embedder: str = "model",
) -> dict:
    """Build (or reuse) a store of ``n`` memories and measure the graph on it.
    ``embedder="hash"`` swaps the sentence model for :class:`HashEmbedder` (scale runs:
    timings are real, recall is not)."""
    if n < 2 * n_chains + 10:
        raise ValueError("n must exceed twice the number of chains")
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="memoryd-graph-bench-")
        workdir = Path(tmp.name)
    Path(workdir).mkdir(parents=True, exist_ok=True)
    db = Path(workdir) / "graph-bench.db"
    if not reuse:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    settings = (settings or Settings.load()).with_(db_path=db, home=Path(workdir))
    n_base = n - 2 * n_chains
    corpus = make_corpus(n_base + n_adds, n_queries, seed)
    docs, extra = corpus.docs[:n_base], corpus.docs[n_base:]  # `extra`: the timed single adds
    queries = [q for q in corpus.queries if q.relevant in {d.key for d in docs}]
    chains = make_chains(n_chains, seed)
    all_docs = docs + [d for c in chains for d in (c.first, c.second)]
    prov = Provenance(agent_id="bench", tool="bench")
    out: dict = {"memories": n, "chains": n_chains, "queries": len(queries), "embedder": embedder}
    if embedder not in ("model", "hash"):
        raise ValueError("embedder must be model or hash")
    app = App(settings, embedder=HashEmbedder() if embedder == "hash" else None)
    try:
        app.embedder.encode(["warm up"])
        graph = app.graph
        if reuse and app.stats().memories >= n:
            out["ingest"] = "skipped (reused store)"
        else:
            items = [NewMemory(d.text, tags=(d.topic,), namespace="bench", provenance=prov) for d in all_docs]
            t0 = time.perf_counter()
            chunk = 2048
            for s in range(0, len(items), chunk):
                app.memories.remember_many(items[s : s + chunk])
                if progress:
                    progress("ingest", min(len(items), s + chunk), len(items))
            out["ingest_s"] = round(time.perf_counter() - t0, 2)
            out["ingest_per_s"] = round(len(items) / (time.perf_counter() - t0), 1)
        graph.wait_for_rebuild()
        by_text = {d.text: d for d in all_docs}
        stored = [(m.id, by_text[m.content]) for m in app.memories.iter_all() if m.content in by_text]
        key_of = {i: d.key for i, d in stored}
        topic_of = {i: d.topic for i, d in stored}

        if progress:
            progress("rebuild", 0, 1)
        rep = graph.rebuild()
        out["rebuild"] = rep.to_dict()
        if progress:
            progress("rebuild", 1, 1)

        with app.lock:
            membership = gstore.all_membership(app.conn)
            ids = gstore.rowid_ids(app.conn)
        member_of = {ids[r]: c for r, c in membership.items()}
        scores = score_communities(member_of, topic_of)
        base_topics = {i: t for i, t in topic_of.items() if not t.startswith("chain")}
        out["communities"] = {
            "n": rep.communities, "modularity": round(rep.modularity, 4),
            "purity": round(scores.purity, 4), "nmi": round(scores.nmi, 4), "ari": round(scores.ari, 4),
            "purity_base_topics": round(score_communities(member_of, base_topics).purity, 4),
            "nmi_base_topics": round(score_communities(member_of, base_topics).nmi, 4),
        }

        # recall: ordinary questions (one memory each) and multi-hop chains (two memories each)
        mem = app.memories
        qtexts = [q.text for q in queries] + [c.question for c in chains]
        qvecs = mem.embedder.encode(qtexts)

        def ranked_for(texts, vecs, expand: bool) -> tuple[list[list[str]], list[float]]:
            ranked, lat = [], []
            for t, v in zip(texts, vecs):
                s = time.perf_counter()
                hits = mem.search(t, opts=SearchOptions(limit=10, query_vector=v, expand=expand))
                lat.append((time.perf_counter() - s) * 1000)
                ranked.append([key_of.get(h.memory.id, "?") for h in hits])
            return ranked, lat

        nq = len(queries)
        rel = [q.relevant for q in queries]
        chain_rel = [(c.first.key, c.second.key) for c in chains]
        for label, expand in (("plain", False), ("expand", True)):
            r_ord, lat_o = ranked_for(qtexts[:nq], qvecs[:nq], expand)
            r_hop, lat_h = ranked_for(qtexts[nq:], qvecs[nq:], expand)
            out[f"ordinary_{label}"] = {**recall_mrr(r_ord, rel, 5),
                                        **{f"search_{k}": v for k, v in percentiles(lat_o).items()}}
            out[f"multihop_{label}"] = {**_recall_sets(r_hop, chain_rel, 5),
                                        "second_hop@5": round(float(np.mean([c[1] in r[:5] for c, r in zip(chain_rel, r_hop)])), 4),
                                        **{f"search_{k}": v for k, v in percentiles(lat_h).items()}}
            if progress:
                progress(f"recall {label}", 1, 1)

        # single-memory adds through remember(): graph work (after_insert) and the whole call
        graph_ms, total_ms = [], []
        auto = graph.params.auto_rebuild
        run = time.time_ns()  # fresh text on every run (a reused store already holds the last run's)
        for d in extra:
            s = time.perf_counter()
            mem.remember(NewMemory(f"{d.text} (run {run})", tags=(d.topic,), namespace="bench", provenance=prov))
            total_ms.append((time.perf_counter() - s) * 1000)
            graph_ms.append(graph.last_insert_ms or 0.0)
        out["incremental_add"] = {
            "graph_ms": percentiles(graph_ms),
            "remember_ms": percentiles(total_ms),
            "n": len(extra),
            "auto_rebuild": auto,
        }
        graph.wait_for_rebuild()
        st = graph.stats()
        out["graph"] = {k: st[k] for k in ("entities", "mentions", "links", "communities", "singletons")}
        estore.wal_checkpoint_truncate(app.conn)
        out["db_mb"] = round(db.stat().st_size / 1e6, 1)
        out["peak_rss_mb"] = peak_rss_mb()
    finally:
        app.close()
        if tmp is not None:
            tmp.cleanup()
    return out
