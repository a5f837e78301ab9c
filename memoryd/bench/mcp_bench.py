"""`memoryd bench mcp`: many agents against one HTTP MCP server, and stdio tool overhead.

Concurrency rounds (one per agent count, e.g. 10 and 50): one ``memoryd serve --http``
subprocess; N agents, each a SEPARATE client process (``python -m memoryd.bench.mcp_bench
--worker``) with its own bearer token, connect, wait at a barrier, then make a fixed
number of remember/recall calls and report their latencies, errors and the ids of the
writes the server acknowledged. Afterwards every acknowledged write is fetched with
``get`` (a missing one is a lost write).

stdio overhead: a ``memoryd serve`` stdio subprocess answers ``recall``; the same query
through ``MemoryService.search`` in this process (same database, same model) is the
baseline. Calls alternate; overhead = stdio latency - direct latency, per query.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .corpus import make_corpus
from .harness import (
    CLI,
    Progress,
    bench_home,
    child_env,
    fresh_settings,
    memoryd_args,
    percentiles,
    start_http_server,
    stop,
    wait_listening,
)

__all__ = ["run_mcp_bench", "summarise_round"]

log = logging.getLogger(__name__)

TOKEN_ENV = "MEMORYD_BENCH_TOKEN"
BLOCK = 10  # stdio overhead: queries per path per block


# ---- the agent process ---------------------------------------------------------------------
async def _worker(url: str, token: str, index: int, round_: int, ops: int, recall_share: float, seed: int) -> dict:
    from fastmcp import Client

    rng = random.Random(seed * 1_000_003 + round_ * 1009 + index)
    corpus = make_corpus(64, 64, seed=seed + 1)  # texts to write, queries to ask
    out: dict[str, Any] = {"lat": {"remember": [], "recall": []}, "errors": 0, "error_samples": [], "ids": []}
    async with Client(url, auth=token, timeout=300) as client:
        await client.list_tools()  # connected and authenticated
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # the barrier
        out["t_start"] = time.time()
        for j in range(ops):
            recall = rng.random() < recall_share
            if recall:
                name, args = "recall", {"query": rng.choice(corpus.queries).text, "limit": 10}
            else:
                doc = rng.choice(corpus.docs)
                name = "remember"
                args = {"content": f"{doc.text} [agent {index}, round {round_}, note {j}]",
                        "namespace": f"bench-r{round_}-a{index}", "tags": [doc.topic]}
            t0 = time.perf_counter()
            try:
                res = await client.call_tool(name, args)
            except Exception as exc:  # noqa: BLE001 - every failure is a counted error
                out["errors"] += 1
                if len(out["error_samples"]) < 3:
                    out["error_samples"].append(f"{name}: {type(exc).__name__}: {exc}"[:300])
                continue
            out["lat"][name].append((time.perf_counter() - t0) * 1000)
            if name == "remember":
                out["ids"].append(res.data["id"])
        out["t_end"] = time.time()
    return out


def _worker_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="memoryd.bench.mcp_bench --worker")
    p.add_argument("--worker", action="store_true", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--index", type=int, required=True)
    p.add_argument("--round", type=int, required=True)
    p.add_argument("--ops", type=int, required=True)
    p.add_argument("--recall-share", type=float, required=True)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    logging.disable(logging.WARNING)
    try:
        res = asyncio.run(_worker(a.url, os.environ[TOKEN_ENV], a.index, a.round, a.ops, a.recall_share, a.seed))
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a fatal error
        res = {"fatal": f"{type(exc).__name__}: {exc}"[:500]}
    sys.stdout.write("RESULT " + json.dumps(res) + "\n")
    sys.stdout.flush()
    return 0


# ---- the harness ---------------------------------------------------------------------------
def _round(url: str, tokens: list[str], n: int, ops: int, recall_share: float, seed: int,
           progress: Progress | None) -> dict:
    env = child_env()
    procs = []
    for i in range(n):
        cmd = [sys.executable, "-m", "memoryd.bench.mcp_bench", "--worker", "--url", url, "--index", str(i),
               "--round", str(n), "--ops", str(ops), "--recall-share", str(recall_share), "--seed", str(seed)]
        procs.append(subprocess.Popen(cmd, env={**env, TOKEN_ENV: tokens[i]}, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
    results: list[dict] = [{} for _ in procs]
    ready = 0
    for i, p in enumerate(procs):  # wait until every agent is connected
        line = p.stdout.readline()
        if line.startswith("RESULT "):  # it failed before the barrier
            results[i] = json.loads(line[7:])
        ready += 1
        if progress:
            progress(f"{n} agents connecting", ready, n)
    for p in procs:  # the barrier: all start together
        try:
            p.stdin.write("GO\n")
            p.stdin.flush()
        except BrokenPipeError:
            pass
    for i, p in enumerate(procs):
        for line in p.stdout:
            if line.startswith("RESULT "):
                results[i] = json.loads(line[7:])
        p.wait()
        if progress:
            progress(f"{n} agents calling", i + 1, n)
    return {"results": results}


async def _verify(url: str, token: str, ids: list[str]) -> int:
    """How many acknowledged ids `get` cannot find."""
    from fastmcp import Client

    lost = 0
    async with Client(url, auth=token, timeout=300) as client:
        for start in range(0, len(ids), 25):
            batch = ids[start : start + 25]
            res = await asyncio.gather(*(client.call_tool("get", {"id": i}, raise_on_error=False) for i in batch))
            lost += sum(1 for r in res if r.is_error or (r.data or {}).get("id") not in batch)
    return lost


def summarise_round(n: int, ops: int, results: list[dict], lost: int) -> dict:
    fatal = [r["fatal"] for r in results if "fatal" in r]
    ok = [r for r in results if "fatal" not in r and "lat" in r]
    rem = [x for r in ok for x in r["lat"]["remember"]]
    rec = [x for r in ok for x in r["lat"]["recall"]]
    errors = sum(r["errors"] for r in ok) + len(fatal) * ops
    samples = [s for r in ok for s in r["error_samples"]][:3] + fatal[:3]
    wall = (max(r["t_end"] for r in ok) - min(r["t_start"] for r in ok)) if ok else float("nan")
    calls = len(rem) + len(rec)
    allp = percentiles(rem + rec)
    out = {
        "agents": n,
        "calls": n * ops,
        "completed_calls": calls,
        "errors": errors,
        "acknowledged_writes": sum(len(r["ids"]) for r in ok),
        "lost_writes": lost,
        "p50_ms": allp["p50_ms"],
        "p95_ms": allp["p95_ms"],
        "remember_p50_ms": percentiles(rem)["p50_ms"],
        "remember_p95_ms": percentiles(rem)["p95_ms"],
        "recall_p50_ms": percentiles(rec)["p50_ms"],
        "recall_p95_ms": percentiles(rec)["p95_ms"],
        "wall_s": round(wall, 2),
        "throughput_calls_per_s": round(calls / wall, 1) if wall and wall > 0 else None,
    }
    if samples:
        out["error_samples"] = samples
    return out


async def _stdio_overhead(settings, app, queries: list[str], n_calls: int, progress: Progress | None) -> dict:
    """recall through a stdio server process vs MemoryService.search here, in alternating blocks;
    the in-memory transport (same process, no pipes) separates fastmcp from the pipe hop."""
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    from ..mcp import create_server
    from ..models import SearchFilters
    from ..services.memories import SearchOptions

    transport = StdioTransport(sys.executable, ["-c", CLI, *memoryd_args(settings), "serve", "--agent", "bench-stdio",
                                                "--project", "none"], env=child_env())
    stdio_ms: list[float] = []
    direct_ms: list[float] = []
    memory_ms: list[float] = []
    mismatches = 0

    def direct(q: str):
        return app.memories.search(q, SearchFilters(), SearchOptions(limit=10))

    async with Client(transport, timeout=300) as client, Client(create_server(app, agent_id="bench-mem")) as local:
        for q in queries[:5]:  # warm every path
            await client.call_tool("recall", {"query": q, "limit": 10})
            await local.call_tool("recall", {"query": q, "limit": 10})
            direct(q)
        # blocks of BLOCK queries per path, so no call runs right behind the other process's
        # (torch threads spin for a while after an encode); pairs are per query
        for start in range(0, n_calls, BLOCK):
            block = [queries[i % len(queries)] for i in range(start, min(start + BLOCK, n_calls))]
            got = []
            for q in block:
                t0 = time.perf_counter()
                got.append(await client.call_tool("recall", {"query": q, "limit": 10}))
                stdio_ms.append((time.perf_counter() - t0) * 1000)
            for q, res in zip(block, got):
                t0 = time.perf_counter()
                hits = direct(q)
                direct_ms.append((time.perf_counter() - t0) * 1000)
                # same database, same model: the same memories (ties may order differently)
                mismatches += {h["id"] for h in res.data["hits"]} != {h.memory.id for h in hits}
            for q in block:
                t0 = time.perf_counter()
                await local.call_tool("recall", {"query": q, "limit": 10})
                memory_ms.append((time.perf_counter() - t0) * 1000)
            if progress:
                progress("stdio overhead", min(start + BLOCK, n_calls), n_calls)
    over = [s - d for s, d in zip(stdio_ms, direct_ms)]
    over_mem = [m - d for m, d in zip(memory_ms, direct_ms)]
    return {
        "calls": n_calls,
        "stdio_recall_p50_ms": percentiles(stdio_ms)["p50_ms"],
        "direct_search_p50_ms": percentiles(direct_ms)["p50_ms"],
        "overhead_p50_ms": percentiles(over)["p50_ms"],
        "overhead_p95_ms": percentiles(over)["p95_ms"],
        "in_memory_overhead_p50_ms": percentiles(over_mem)["p50_ms"],
        "target_overhead_p50_ms": 5.0,
        "result_set_mismatches": mismatches,
    }


def run_mcp_bench(
    agent_counts: list[int],
    *,
    ops_per_agent: int = 20,
    recall_share: float = 0.5,
    corpus_size: int = 500,
    stdio_calls: int = 100,
    seed: int = 0,
    workdir: Path | None = None,
    settings=None,
    progress: Progress | None = None,
) -> dict:
    from ..app import App
    from ..models import NewMemory, Provenance

    out: dict[str, Any] = {
        "host": {"cpus": os.cpu_count(), "load_avg_1m_at_start": round(os.getloadavg()[0], 2)},
        "ops_per_agent": ops_per_agent,
        "recall_share": recall_share,
        "corpus": corpus_size,
    }
    with bench_home(workdir, "memoryd-mcp-bench-") as workdir, App(fresh_settings(settings, workdir)) as app:
        server = None
        try:
            corpus = make_corpus(corpus_size, 200, seed)
            prov = Provenance(agent_id="bench-seed", tool="bench")
            app.memories.remember_many([NewMemory(d.text, tags=(d.topic,), namespace="bench-shared", provenance=prov)
                                        for d in corpus.docs])
            agent_counts = [n for n in agent_counts if n > 0]  # 0: skip the HTTP rounds
            if agent_counts:
                tokens = [app.agents.add(f"bench-a{i}").token for i in range(max(agent_counts))]
                verifier = app.agents.add("bench-verify").token
                server = start_http_server(memoryd_args(app.settings), workdir / "server.log", child_env())
                url = server.url
                wait_listening(server.port, server.proc, server.log)
                for n in agent_counts:
                    raw = _round(url, tokens, n, ops_per_agent, recall_share, seed, progress)["results"]
                    ids = [i for r in raw for i in r.get("ids", [])]
                    lost = asyncio.run(_verify(url, verifier, ids))
                    out[f"http_{n}_agents"] = summarise_round(n, ops_per_agent, raw, lost)
                stop(server.proc)
                server = None
            if stdio_calls > 0:
                queries = [q.text for q in corpus.queries]
                out["stdio_overhead"] = asyncio.run(_stdio_overhead(app.settings, app, queries, stdio_calls, progress))
            out["host"]["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
        finally:
            if server is not None:
                stop(server.proc)
    return out


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
