"""`memoryd bench search`: ingest rate, search latency, recall@5 / MRR per leg, size, RSS."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ..app import App
from ..config import Settings
from ..models import NewMemory, Provenance
from ..services.memories import SearchOptions
from .corpus import Corpus, make_corpus
from .harness import Progress, bench_home, fresh_settings, ingest, percentiles, recall_mrr, store_figures

__all__ = ["run_search_bench"]

log = logging.getLogger(__name__)


def run_search_bench(
    n: int,
    *,
    n_queries: int = 200,
    seed: int = 0,
    workdir: Path | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    reuse: bool = False,
) -> dict:
    """Build a store of `n` synthetic memories (or reuse the one in `workdir` when
    `reuse` and it already holds them: ingest is then not measured) and measure it."""
    corpus = make_corpus(n, n_queries, seed)
    out: dict = {"memories": n, "queries": len(corpus.queries)}
    with bench_home(workdir) as home:
        settings = fresh_settings(settings, home, "bench.db", reuse=reuse)
        with App(settings) as app:
            out.update(_measure(app, n, corpus, reuse=reuse, progress=progress))
    return out


def _measure(app: App, n: int, corpus: Corpus, *, reuse: bool, progress: Progress | None) -> dict:
    prov = Provenance(agent_id="bench", tool="bench")
    items = [NewMemory(d.text, tags=(d.topic,), namespace="bench", provenance=prov) for d in corpus.docs]
    out: dict = {}
    app.embedder.encode(["warm up"])  # model load is not ingest
    out["embedding"] = {"model": app.embedder.name, "backend": getattr(app.embedder, "backend", "custom")}
    if reuse and app.stats().memories == n:
        out["ingest"] = "skipped (reused store)"
    else:
        ingest_s = ingest(app, items, progress)
        out["ingest_s"] = round(ingest_s, 2)
        out["ingest_per_s"] = round(n / ingest_s, 1)
    t0 = time.perf_counter()
    app.memories.reset_index()
    app.memories.index  # load both RAM indexes from the file, as a server start does
    out["index_load_s"] = round(time.perf_counter() - t0, 2)

    key_of = {r.id: d.key for r, d in zip(app.memories.iter_all(), corpus.docs)}
    mem = app.memories
    # warm the index and the query path
    mem.search("warm up query", opts=SearchOptions(limit=5))
    qvecs = mem.embedder.encode([q.text for q in corpus.queries])
    rel = [q.relevant for q in corpus.queries]

    def run(legs, with_embedding: bool, fusion: str = "relative"):
        ranked, lat = [], []
        for i, q in enumerate(corpus.queries):
            opts = SearchOptions(limit=10, legs=legs, fusion=fusion,
                                 query_vector=None if with_embedding else qvecs[i])
            t = time.perf_counter()
            hits = mem.search(q.text, opts=opts)
            lat.append((time.perf_counter() - t) * 1000)
            ranked.append([key_of.get(h.memory.id, "?") for h in hits])
        return ranked, lat

    for name, legs in (("hybrid", ("bm25", "vector")), ("bm25", ("bm25",)), ("vector", ("vector",))):
        ranked, lat = run(legs, with_embedding=False)
        out[name] = {**recall_mrr(ranked, rel, 5), **{f"search_{k}": v for k, v in percentiles(lat).items()}}
        if progress:
            progress(f"search {name}", 1, 1)
    ranked, _ = run(("bm25", "vector"), with_embedding=False, fusion="rrf")
    out["hybrid_rrf"] = recall_mrr(ranked, rel, 5)
    _, lat_e = run(("bm25", "vector"), with_embedding=True)
    out["hybrid"].update({f"with_embedding_{k}": v for k, v in percentiles(lat_e).items()})
    out["hybrid"].update(_after_foreign_writes(app.settings, mem, corpus.queries, qvecs))
    if progress:
        progress("coherence", 1, 1)
    # how much the binary shortlist loses against an exact scan
    idx = mem.index
    agree = 0
    for qv in qvecs:
        a = [h.rowid for h in idx.search(qv, 10)]
        b = [h.rowid for h in idx.search(qv, 10, exact=True)]
        agree += len(set(a) & set(b))
    out["vector_shortlist_recall@10_vs_exact"] = round(agree / (10 * len(qvecs)), 4)
    out.update(store_figures(app))
    return out


def _after_foreign_writes(settings: Settings, mem, queries, qvecs, rounds: int = 50) -> dict:
    """Hybrid search (without the embedding) right after another connection, as another
    process would, deleted a memory this one has indexed and stored a new one: the search
    first applies the deletion log and loads the new row (the cross-process coherence
    check, docs/security.md). The store ends as it began."""
    other = App(settings, embedder=mem.embedder)
    prov = Provenance(agent_id="bench-other", tool="bench")
    lat: list[float] = []
    try:
        probe = other.memories.remember(NewMemory("coherence probe 0", namespace="bench", provenance=prov)).memory
        mem.search("warm up query", opts=SearchOptions(limit=5, query_vector=qvecs[0]))
        for i in range(rounds):
            other.memories.forget(probe.id)
            probe = other.memories.remember(NewMemory(f"coherence probe {i + 1}", namespace="bench",
                                                      provenance=prov)).memory
            opts = SearchOptions(limit=10, query_vector=qvecs[i % len(qvecs)])
            t = time.perf_counter()
            mem.search(queries[i % len(queries)].text, opts=opts)
            lat.append((time.perf_counter() - t) * 1000)
        other.memories.forget(probe.id)
    finally:
        other.close()
    return {f"after_foreign_write_{k}": v for k, v in percentiles(lat).items()}
