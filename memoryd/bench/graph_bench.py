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

import logging
import time
from pathlib import Path

import numpy as np

from ..app import App
from ..config import Settings
from ..graph import score_communities
from ..models import NewMemory, Provenance
from ..services.memories import SearchOptions
from .chains import Chain, make_chains
from .corpus import Doc, Query, make_corpus
from .harness import (
    HashEmbedder,
    Progress,
    bench_home,
    fresh_settings,
    ingest,
    percentiles,
    recall_mrr,
    store_figures,
)

__all__ = ["Chain", "HashEmbedder", "make_chains", "run_graph_bench"]

log = logging.getLogger(__name__)


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
    progress: Progress | None = None,
    embedder: str = "model",
) -> dict:
    """Build (or reuse) a store of ``n`` memories and measure the graph on it.
    ``embedder="hash"`` swaps the sentence model for :class:`HashEmbedder` (scale runs:
    timings are real, recall is not)."""
    if n < 2 * n_chains + 10:
        raise ValueError("n must exceed twice the number of chains")
    n_base = n - 2 * n_chains
    corpus = make_corpus(n_base + n_adds, n_queries, seed)
    docs, extra = corpus.docs[:n_base], corpus.docs[n_base:]  # `extra`: the timed single adds
    queries = [q for q in corpus.queries if q.relevant in {d.key for d in docs}]
    chains = make_chains(n_chains, seed)
    out: dict = {"memories": n, "chains": n_chains, "queries": len(queries), "embedder": embedder}
    if embedder not in ("model", "hash"):
        raise ValueError("embedder must be model or hash")
    with bench_home(workdir, "memoryd-graph-bench-") as home:
        settings = fresh_settings(settings, home, "graph-bench.db", reuse=reuse)
        with App(settings, embedder=HashEmbedder() if embedder == "hash" else None) as app:
            out.update(_measure(app, n, docs, extra, queries, chains, reuse=reuse, progress=progress))
    return out


def _measure(app: App, n: int, docs: list[Doc], extra: list[Doc], queries: list[Query], chains: list[Chain], *,
             reuse: bool, progress: Progress | None) -> dict:
    all_docs = docs + [d for c in chains for d in (c.first, c.second)]
    prov = Provenance(agent_id="bench", tool="bench")
    out: dict = {}
    app.embedder.encode(["warm up"])
    graph = app.graph
    if reuse and app.stats().memories >= n:
        out["ingest"] = "skipped (reused store)"
    else:
        items = [NewMemory(d.text, tags=(d.topic,), namespace="bench", provenance=prov) for d in all_docs]
        ingest_s = ingest(app, items, progress)
        out["ingest_s"] = round(ingest_s, 2)
        out["ingest_per_s"] = round(len(items) / ingest_s, 1)
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

    member_of = graph.membership()
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
    out.update(store_figures(app))
    return out
