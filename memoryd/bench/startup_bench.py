"""`memoryd bench startup`: how long a client waits for `memoryd serve` over stdio.

For a store of N memories, a fresh server process is launched the way an MCP client does
(stdio) and timed from spawn to the answer to ``initialize``, to ``tools/list``, and to the
first ``recall``: cold (an empty MEMORYD_CACHE, so the one-off ONNX export runs) and warm
(the cache filled by the cold run). Worst of the warm repeats is reported.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from ..config import Settings
from .harness import CLI, Progress, bench_home, child_env, memoryd_args

__all__ = ["run_startup_bench"]


def _build_store(settings: Settings, n: int, progress: Progress | None) -> None:
    from ..app import App
    from ..models import NewMemory, Provenance
    from .corpus import make_corpus

    with App(settings) as app:
        have = app.stats().memories
        if have >= n:
            return
        docs = make_corpus(n, n_queries=1).docs[have:n]
        prov = Provenance(agent_id="bench")
        done = 0

        def step(k: int) -> None:
            nonlocal done
            done += k
            if progress:
                progress("ingest", done, len(docs))

        app.memories.remember_many([NewMemory(content=d.text, provenance=prov) for d in docs], progress=step)


async def _one_start(settings: Settings, cache: Path, query: str) -> dict[str, float]:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    env = {**child_env(), "MEMORYD_CACHE": str(cache)}
    args = ["-c", CLI, *memoryd_args(settings), "serve", "--agent", "bench-startup", "--project", "none"]
    transport = StdioTransport(sys.executable, args, env=env)
    t0 = time.perf_counter()
    async with Client(transport, timeout=600) as client:
        t_init = time.perf_counter()
        await client.list_tools()
        t_list = time.perf_counter()
        res = await client.call_tool("recall", {"query": query, "limit": 10})
        t_recall = time.perf_counter()
    assert res.data["hits"], "the first recall found nothing"
    return {"initialize_s": round(t_init - t0, 3), "tools_list_s": round(t_list - t0, 3),
            "first_recall_s": round(t_recall - t0, 3)}


def run_startup_bench(memories: int, *, settings: Settings, workdir: Path | None = None, repeats: int = 2,
                      progress: Progress | None = None) -> dict:
    with bench_home(workdir, "memoryd-startup-") as root:
        st = settings.with_(home=root, db_path=root / "bench.db")
        _build_store(st, memories, progress)
        cache = Path(tempfile.mkdtemp(prefix="cache-", dir=root))  # empty: the cold start exports the model
        query = "which port does the staging database listen on?"
        cold = asyncio.run(_one_start(st, cache, query))
        warm_runs = [asyncio.run(_one_start(st, cache, query)) for _ in range(max(1, repeats))]
        warm = {k: max(r[k] for r in warm_runs) for k in warm_runs[0]}  # worst of the repeats
        return {"memories": memories, "cold": cold, "warm_worst": warm, "warm_repeats": len(warm_runs),
                "cores": len(os.sched_getaffinity(0))}
