"""Small measurement helpers shared by benchmarks."""

from __future__ import annotations

import resource
import statistics
import sys

__all__ = ["percentiles", "peak_rss_mb", "recall_mrr"]


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    if not samples_ms:
        return {"p50_ms": float("nan"), "p95_ms": float("nan")}
    s = sorted(samples_ms)
    p95 = s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]
    return {"p50_ms": round(statistics.median(s), 3), "p95_ms": round(p95, 3)}


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024, 1)


def recall_mrr(ranked_keys: list[list[str]], relevant: list[str], k: int = 5) -> dict[str, float]:
    hits = sum(1 for r, rel in zip(ranked_keys, relevant) if rel in r[:k])
    rr = [1.0 / (r.index(rel) + 1) if rel in r else 0.0 for r, rel in zip(ranked_keys, relevant)]
    n = max(len(relevant), 1)
    return {f"recall@{k}": round(hits / n, 4), "mrr": round(sum(rr) / n, 4)}
