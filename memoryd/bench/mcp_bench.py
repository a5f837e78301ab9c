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
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .corpus import make_corpus
from .measure import percentiles

__all__ = ["run_mcp_bench"]

log = logging.getLogger(__name__)

_CLI = "from memoryd.cli import main; main()"
TOKEN_ENV = "MEMORYD_BENCH_TOKEN"
BLOCK = 10  # stdio overhead: queries per path per block
Progress = Callable[[str, int, int], None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("FASTMCP_LOG_LEVEL", "WARNING")
    return env


def _memoryd_args(settings) -> list[str]:
    args = ["--db", str(settings.db_path), "--home", str(settings.home)]
    if settings.model_path is not None:
        args += ["--model", str(settings.model_path)]
    return args


def _wait_port(port: int, proc: subprocess.Popen, log_path: Path, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server did not listen on port {port} within {timeout:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
@dataclass
class _Server:
    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


def _start_http(settings, workdir: Path) -> _Server:
    port = _free_port()
    log_path = workdir / "server.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CLI, *_memoryd_args(settings), "serve", "--http", "--port", str(port)],
            env=_child_env(), stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
        )
    return _Server(proc, port, log_path)


def _round(url: str, tokens: list[str], n: int, ops: int, recall_share: float, seed: int,
           progress: Progress | None) -> dict:
    env = _child_env()
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


def _summarise(n: int, ops: int, results: list[dict], lost: int) -> dict:
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

    transport = StdioTransport(sys.executable, ["-c", _CLI, *_memoryd_args(settings), "serve", "--agent", "bench-stdio", "--project", "none"],
                               env=_child_env())
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
    from ..config import Settings
    from ..models import NewMemory, Provenance

    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="memoryd-mcp-bench-")
        workdir = Path(tmp.name)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    settings = (settings or Settings.load()).with_(db_path=db, home=workdir)
    out: dict[str, Any] = {
        "host": {"cpus": os.cpu_count(), "load_avg_1m_at_start": round(os.getloadavg()[0], 2)},
        "ops_per_agent": ops_per_agent,
        "recall_share": recall_share,
        "corpus": corpus_size,
    }
    app = App(settings)
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
            server = _start_http(settings, workdir)
            url = server.url
            _wait_port(server.port, server.proc, server.log)
            for n in agent_counts:
                raw = _round(url, tokens, n, ops_per_agent, recall_share, seed, progress)["results"]
                ids = [i for r in raw for i in r.get("ids", [])]
                lost = asyncio.run(_verify(url, verifier, ids))
                out[f"http_{n}_agents"] = _summarise(n, ops_per_agent, raw, lost)
            _stop(server.proc)
            server = None
        if stdio_calls > 0:
            queries = [q.text for q in corpus.queries]
            out["stdio_overhead"] = asyncio.run(_stdio_overhead(settings, app, queries, stdio_calls, progress))
        out["host"]["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    finally:
        if server is not None:
            _stop(server.proc)
        app.close()
        if tmp is not None:
            tmp.cleanup()
    return out


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
