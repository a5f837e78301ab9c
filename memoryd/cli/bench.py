"""`memoryd bench ...`: every benchmark's command, registered here and only here; the
benchmarks themselves live in memoryd/bench/ (docs/benchmarks.md)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from ..errors import ValidationError
from . import app
from ._common import (JsonOpt, ProgressFn, console, emit, err_console, get_settings, handles_errors, print_figures,
                      progress_bars)

bench_app = typer.Typer(help="Benchmarks (deterministic synthetic corpora; print figures).", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


SeedOpt = typer.Option(0, "--seed", help="Seed of the generated workload: the same seed, the same data.")
WorkdirOpt = typer.Option(None, "--workdir", help="Keep the bench store here (default: a temp dir, removed after).")


def memories_opt(default: int, help: str) -> Any:
    """`--memories/-n`: the size of the store a bench builds."""
    return typer.Option(default, "--memories", "-n", min=1, help=help)


def queries_opt(default: int, help: str) -> Any:
    """`--queries`: how many searches a bench times and scores."""
    return typer.Option(default, "--queries", min=1, help=help)


def bench_command(name: str) -> Callable[[Callable], Callable]:
    """Register `memoryd bench NAME`, with domain errors turned into one line on stderr."""

    def register(fn: Callable) -> Callable:
        return bench_app.command(name)(handles_errors(fn))

    return register


def _figures(as_json: bool, run: Callable[[ProgressFn], dict]) -> None:
    """Run one benchmark with progress bars, then print its figures (or their JSON)."""
    with progress_bars(as_json) as cb:
        data = run(cb)
    emit(data, as_json, lambda: print_figures(data))


@bench_command("search")
def bench_search(
    ctx: typer.Context,
    memories: int = memories_opt(10_000, "Corpus size."),
    queries: int = queries_opt(200, "Number of known-answer queries."),
    seed: int = SeedOpt,
    workdir: Path = WorkdirOpt,
    reuse: bool = typer.Option(False, "--reuse", help="With --workdir: reuse a store already built there (skips ingest)."),
    as_json: bool = JsonOpt,
) -> None:
    """Ingest rate, search p50/p95 (with and without query embedding), recall@5, MRR, DB size, RSS."""
    from ..bench.search_bench import run_search_bench

    _figures(as_json, lambda cb: run_search_bench(memories, n_queries=queries, seed=seed, workdir=workdir,
                                                  settings=get_settings(ctx), progress=cb, reuse=reuse))


@bench_command("poison")
def bench_poison(
    ctx: typer.Context,
    memories: int = memories_opt(3000, "Benign corpus size (honest memories)."),
    queries: int = queries_opt(200, "Clean questions for recall@5."),
    targets: int = typer.Option(30, "--targets", help="PoisonedRAG target questions (5 poisoned memories each)."),
    seed: int = SeedOpt,
    workdir: Path = WorkdirOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Memory-poisoning attacks (PoisonedRAG, trigger, sleeper, Sybil) with trust on and off;
    ends with the targets of docs/trust.md next to the measured figures."""
    from ..bench.poison_bench import run_poison_bench

    _figures(as_json, lambda cb: run_poison_bench(memories, n_queries=queries, n_targets=targets, seed=seed,
                                                  settings=get_settings(ctx), workdir=workdir, progress=cb))


@bench_command("locomo")
def bench_locomo(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", help="LoCoMo JSON file, or a folder holding locomo-dev.json."),
    writer: str = typer.Option("agent", "--writer", help="agent: one remember call per turn (the MCP path); "
                               "operator: one batch import (the CLI add --jsonl path)."),
    dates: bool = typer.Option(True, "--dates/--no-dates", help="Store each turn with its session's date as created_at."),
    sessions: bool = typer.Option(True, "--sessions/--no-sessions", help="Store each turn with its session id (turns then get a context vector)."),
    workdir: Path = WorkdirOpt,
    as_json: bool = JsonOpt,
) -> None:
    """LoCoMo protocol: one memory per turn, one namespace per conversation, each question
    recalled with default options; hit@5, recall@5 and MRR@10 per category, recall latency
    (query embedding included) and ingest rate."""
    from ..bench.locomo_bench import run_locomo_bench

    _figures(as_json, lambda cb: run_locomo_bench(data, writer=writer, dates=dates, sessions=sessions, workdir=workdir,
                                                  settings=get_settings(ctx), progress=cb))


@bench_command("trust")
def bench_trust(
    ctx: typer.Context,
    notes: int = typer.Option(1000, "--notes", "-n", help="Notes the dev-notes agent writes one at a time on day 0 "
                              "(then 2x by bulk import, 0.5x over 5 days); the other workloads scale with it."),
    poison: int = typer.Option(1500, "--poison", help="Honest corpus of the poison attacks (0: skip them)."),
    targets: int = typer.Option(20, "--targets", help="PoisonedRAG target questions of the poison attacks."),
    turns: int = typer.Option(None, "--turns", help="Most LoCoMo-dev turns logged (whole conversations; default all)."),
    seed: int = SeedOpt,
    workdir: Path = typer.Option(None, "--workdir", help="Keep the bench databases here (default: a temp dir)."),
    as_json: bool = JsonOpt,
) -> None:
    """Honest workloads (templated notes, quoting readers, a conversation logged turn by turn,
    an operator import) next to the attacks (silencing, poisoning), trust on and off: one table."""
    from rich.table import Table

    from ..bench.trust_bench import run_trust_bench

    with progress_bars(as_json) as cb:
        data = run_trust_bench(notes, poison_n=poison, poison_targets=targets, conversation_turns=turns, seed=seed,
                               settings=get_settings(ctx), workdir=workdir, progress=cb)

    def human() -> None:
        t = Table("workload / attack", "metric", "n", "trust off", "trust on", "false quarantine", "target", "met")
        for r in data["rows"]:
            fq = "" if r["false_quarantine"] is None else f"{100 * r['false_quarantine']:.2f} %"
            t.add_row(r["workload"], r["metric"], str(r["n"] or ""), f"{r['trust_off']:.3f}", f"{r['trust_on']:.3f}",
                      fq, r["target"], "yes" if r["met"] else "[red]NO[/red]")
        console.print(t)
        console.print(f"all targets met: {data['all_met']}  ({data['runtime_s']} s)")

    emit(data, as_json, human)


@bench_command("erase")
def bench_erase(
    ctx: typer.Context,
    memories: int = memories_opt(10_000, "Store size for the forensic run (real embeddings)."),
    erasures: int = typer.Option(100, "--erasures", help="Randomized erasures in the forensic run."),
    subject_memories: int = typer.Option(100_000, "--subject-memories",
                                         help="Store size for the timed subject erasure (random vectors); 0 skips it."),
    seed: int = SeedOpt,
    workdir: Path = typer.Option(None, "--workdir", help="Keep the bench databases here (default: temp dirs)."),
    skip_forensic: bool = typer.Option(False, "--skip-forensic", help="Only run the timed subject erasure."),
    gaps_memories: int = typer.Option(10_000, "--gaps-memories",
                                      help="Store size for the issue-15 cases (metadata subjects, forgets, exports, "
                                           "short memories, a reader holding a transaction, a tiny model in the "
                                           "ledger); 0 skips them."),
    as_json: bool = JsonOpt,
) -> None:
    """Forensic scan over randomized erasures (bytes recoverable), the issue-15 cases (metadata,
    forget, exports, short memories, a blocking reader, a model in the ledger), and a timed subject erasure on a large
    store with searches running meanwhile (VACUUM share reported separately)."""
    from ..bench.erase_bench import run_forensic_bench, run_subject_bench

    def run(cb: ProgressFn) -> dict:
        data: dict = {}
        if not skip_forensic:
            data["forensic"] = run_forensic_bench(
                memories, erasures=erasures, seed=seed, settings=get_settings(ctx), progress=cb,
                workdir=workdir / "forensic" if workdir else None)
        if gaps_memories > 0:
            from ..bench.erase_gaps import run_gaps_bench

            data["gaps"] = run_gaps_bench(gaps_memories, seed=seed, settings=get_settings(ctx), progress=cb,
                                          workdir=workdir / "gaps" if workdir else None)
        if subject_memories > 0:
            data["subject"] = run_subject_bench(
                subject_memories, seed=seed, settings=get_settings(ctx), progress=cb,
                workdir=workdir / "subject" if workdir else None)
        return data

    _figures(as_json, run)


@bench_command("graph")
def bench_graph(
    ctx: typer.Context,
    memories: int = memories_opt(10_000, "Corpus size (including the multi-hop chains)."),
    queries: int = queries_opt(200, "Ordinary known-answer queries."),
    chains: int = typer.Option(100, "--chains", help="Multi-hop chains (two linked memories and one query each)."),
    adds: int = typer.Option(50, "--adds", help="Single-memory adds to time."),
    seed: int = SeedOpt,
    workdir: Path = WorkdirOpt,
    reuse: bool = typer.Option(False, "--reuse", help="With --workdir: reuse a store already built there (skips ingest)."),
    embedder: str = typer.Option("model", "--embedder", help="model, or hash: a fast bag-of-words stand-in for scale runs (timings only; recall meaningless)."),
    as_json: bool = JsonOpt,
) -> None:
    """Graph rebuild time, incremental add, community purity/NMI, recall@5 with and without expansion."""
    from ..bench.graph_bench import run_graph_bench

    _figures(as_json, lambda cb: run_graph_bench(memories, n_queries=queries, n_chains=chains, n_adds=adds, seed=seed,
                                                 workdir=workdir, reuse=reuse, settings=get_settings(ctx), progress=cb,
                                                 embedder=embedder))


@bench_command("mcp")
def bench_mcp(
    ctx: typer.Context,
    agents: str = typer.Option("10,50", "--agents", help="Concurrent agent processes per round, comma-separated (0: only the stdio measurement)."),
    ops: int = typer.Option(20, "--ops", help="Tool calls per agent per round (a remember/recall mix)."),
    recall_share: float = typer.Option(0.5, "--recall-share", help="Fraction of calls that are recall (the rest remember)."),
    corpus: int = typer.Option(500, "--corpus", help="Memories stored before the rounds."),
    stdio_calls: int = typer.Option(100, "--stdio-calls", help="Recall calls for the stdio overhead measurement."),
    seed: int = SeedOpt,
    workdir: Path = WorkdirOpt,
    as_json: bool = JsonOpt,
) -> None:
    """N agents as separate client processes over HTTP (errors, lost writes, p50/p95,
    throughput) and the stdio tool-call overhead on top of the direct search."""
    from ..bench.mcp_bench import run_mcp_bench

    try:
        counts = [int(x) for x in agents.split(",") if x.strip()]
    except ValueError:
        raise ValidationError(f"--agents wants numbers like 10,50; got {agents!r}") from None
    if not counts or min(counts) < 0 or ops < 1 or not (0.0 <= recall_share <= 1.0):
        raise ValidationError("--agents must be counts >= 0, --ops positive, --recall-share in [0, 1]")
    _figures(as_json, lambda cb: run_mcp_bench(counts, ops_per_agent=ops, recall_share=recall_share, corpus_size=corpus,
                                               stdio_calls=stdio_calls, seed=seed, workdir=workdir,
                                               settings=get_settings(ctx), progress=cb))


@bench_command("startup")
def bench_startup(
    ctx: typer.Context,
    memories: int = memories_opt(10_000, "Memories in the store the server opens."),
    repeats: int = typer.Option(2, "--repeats", help="Warm starts (the worst is reported)."),
    workdir: Path = typer.Option(None, "--workdir", help="Keep the bench store here and reuse it (default: a temp dir)."),
    as_json: bool = JsonOpt,
) -> None:
    """Spawn `memoryd serve` over stdio as a client does: seconds to initialize, tools/list and
    the first recall, cold (empty ONNX cache) and warm."""
    from ..bench.startup_bench import run_startup_bench

    _figures(as_json, lambda cb: run_startup_bench(memories, settings=get_settings(ctx), workdir=workdir,
                                                   repeats=repeats, progress=cb))


@bench_command("ui")
def bench_ui(
    ctx: typer.Context,
    memories: int = memories_opt(100_000, "Store size (real rows and full text, random vectors)."),
    queries: int = queries_opt(200, "Searches typed into the Memories page."),
    seed: int = SeedOpt,
    workdir: Path = WorkdirOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Web UI on a large store: search p50/p95 in the Memories page (whole request, query
    embedded by the real model), paged lists and a memory's page."""
    from ..bench.ui_bench import run_ui_bench

    _figures(as_json, lambda cb: run_ui_bench(memories, queries=queries, seed=seed, settings=get_settings(ctx),
                                              workdir=workdir, progress=cb))


@bench_command("unlearn")
def bench_unlearn(
    profiles: int = typer.Option(48, "--profiles", help="Synthetic personal-profile memories the model is adapted on."),
    forget: int = typer.Option(8, "--forget", help="Memories erased in one request."),
    heldout: int = typer.Option(16, "--heldout", help="Unseen profiles: perplexity, and the guessing baseline."),
    sequential: int = typer.Option(10, "--sequential", help="Single-memory erasure requests one after another (0: skip)."),
    size: str = typer.Option("bench", "--size", help="Model size: bench (~10M params), large (~26M) or test (~0.7M)."),
    seed: int = SeedOpt,
    device: str = typer.Option("cpu", "--device", help="torch device."),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Runs of each method from the same weights; times are the median."),
    retrain: bool = typer.Option(True, "--retrain/--no-retrain",
                                 help="Also retrain from scratch without the erased memories (the gold standard)."),
    attacks: bool = typer.Option(False, "--attacks/--no-attacks",
                                 help="Also attack every method: held-out prompt forms, relearning, Min-K% membership "
                                      "inference (PrivLeak), an output classifier vs the retrained model; STAMP "
                                      "scalability and sustainability (retrains once); the exact path (4 shard adapters, "
                                      "served routed) against its own recipe retrained with other seeds."),
    relearn_steps: int = typer.Option(10, "--relearn-steps", min=1, help="Fine-tuning steps of the relearning attack."),
    scale: str = typer.Option("1,8,32", "--scale", help="Forget-set sizes of the scalability run (comma-separated)."),
    sustain: int = typer.Option(10, "--sustain", min=0, help="Sequential STAMP requests of the sustainability run."),
    speed_sizes: str = typer.Option("1,8,32", "--speed-sizes",
                                    help="Also time STAMP against gradient ascent erasing this many memories in one "
                                         "request (comma-separated; sizes not below --profiles are skipped; '' to skip); "
                                         "the worst size is the speed target's figure."),
    methods: str = typer.Option("", "--methods", help="With --attacks: the methods to attack (comma-separated; default "
                                "all: stamp, gradient_ascent, ssd, uno, exact_shards, retrain_reseeded; retrain always)."),
    seeds: str = typer.Option("", "--seeds", help="With --attacks: run the whole benchmark once per seed "
                              "(comma-separated, e.g. 0,1,2; replaces --seed) and judge the targets on the means "
                              "over the seeds, showing each figure's range and how often a target failed alone."),
    as_json: bool = JsonOpt,
) -> None:
    """STAMP (full, low-rank, no repair) vs gradient ascent vs SSD vs UNO vs retraining: forgetting, retain
    recall, perplexity, speed; with --attacks, the same methods under attack."""
    from ..bench.unlearn import RelearnConfig, render_unlearn_table, run_unlearn_benchmark
    from ..editing import TINY_BENCH, TINY_LARGE, TINY_TEST

    sizes = {"bench": TINY_BENCH, "large": TINY_LARGE, "test": TINY_TEST}
    if size not in sizes:
        raise typer.BadParameter("size must be bench, large or test")
    try:
        scale_sizes = tuple(int(x) for x in scale.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter("--scale takes comma-separated integers, e.g. 1,8,32") from None
    try:
        speed_list = tuple(dict.fromkeys(int(x) for x in speed_sizes.split(",") if x.strip()))
    except ValueError:
        raise typer.BadParameter("--speed-sizes takes comma-separated integers, e.g. 1,8,32") from None
    if any(n < 1 for n in speed_list):
        raise typer.BadParameter("--speed-sizes must be positive")
    try:
        seed_list = list(dict.fromkeys(int(x) for x in seeds.split(",") if x.strip()))
    except ValueError:
        raise typer.BadParameter("--seeds takes comma-separated integers, e.g. 0,1,2") from None
    if seed_list and not attacks:
        raise typer.BadParameter("--seeds pools the attack suite: add --attacks")
    chosen = [m.strip() for m in methods.split(",") if m.strip()] or None
    t0 = time.perf_counter()
    tag = ""

    def say(msg: str) -> None:
        err_console.print(f"[{time.perf_counter() - t0:6.0f}s] {tag}{msg}", markup=False, highlight=False)

    def one(s: int) -> dict:
        return run_unlearn_benchmark(profiles, forget, s, device, say, n_heldout=heldout, n_sequential=sequential,
                                     repeats=repeats, retrain=retrain, model_cfg=sizes[size], attacks=attacks,
                                     relearn_cfg=RelearnConfig(steps=relearn_steps), scale_sizes=scale_sizes,
                                     n_sustain=sustain, attack_methods=chosen, speed_sizes=speed_list)

    if not seed_list:
        data = one(seed)
        emit(data, as_json, lambda: console.print(render_unlearn_table(data), markup=False, highlight=False))
        return
    from ..bench.unlearn.pooled import pool_attack_runs
    from ..bench.unlearn.table import render_pooled_table

    runs = []
    for s in seed_list:
        tag = f"seed {s}: "
        runs.append(one(s))
    pooled = pool_attack_runs(runs)
    emit({"runs": runs, "pooled": pooled}, as_json,
         lambda: console.print(render_pooled_table(pooled), markup=False, highlight=False))


@bench_command("exact")
def bench_exact(
    memories: int = memories_opt(40, "Profile memories adapted on, split over the shards."),
    shards: int = typer.Option(4, "--shards", min=1, help="Shards (one LoRA adapter each)."),
    seed: int = SeedOpt,
    as_json: bool = JsonOpt,
) -> None:
    """The exact path on a tiny model: retraining the erased memory's shard against retraining
    every adapter, and what each leaves of the erased memory (docs/editing.md)."""
    from ..bench.unlearn.exact_cost import run_exact_cost

    t0 = time.perf_counter()

    def say(msg: str) -> None:
        err_console.print(f"[{time.perf_counter() - t0:6.0f}s] {msg}", markup=False, highlight=False)

    data = run_exact_cost(memories, shards, seed=seed, say=(lambda _m: None) if as_json else say)
    emit(data, as_json, lambda: print_figures(data))
