"""`memoryd bench ...`: benchmarks that print figures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import app
from ._common import JsonOpt, console, emit, err_console, get_settings, handles_errors

bench_app = typer.Typer(help="Benchmarks (deterministic synthetic corpora; print figures).", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def _progress(quiet: bool):
    if quiet:
        return None, lambda *a: None
    prog = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err_console, transient=True)
    tasks: dict[str, int] = {}

    def cb(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = prog.add_task(stage, total=total)
        prog.update(tasks[stage], completed=done)

    return prog, cb


@contextmanager
def bench_progress(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """Progress bars on stderr for the duration of a benchmark (none with --json)."""
    prog, cb = _progress(quiet)
    if prog is None:
        yield cb
        return
    prog.start()
    try:
        yield cb
    finally:
        prog.stop()


def print_figures(data: dict, prefix: str = "") -> None:
    for k, v in data.items():
        if isinstance(v, dict):
            console.print(f"{prefix}{k}:")
            print_figures(v, prefix + "  ")
        else:
            console.print(f"{prefix}{k}: {v}")


@bench_app.command("search")
@handles_errors
def bench_search(
    ctx: typer.Context,
    memories: int = typer.Option(10_000, "--memories", "-n", help="Corpus size."),
    queries: int = typer.Option(200, "--queries", help="Number of known-answer queries."),
    seed: int = typer.Option(0, "--seed"),
    workdir: Path = typer.Option(None, "--workdir", help="Keep the bench database here (default: a temp dir)."),
    reuse: bool = typer.Option(False, "--reuse", help="With --workdir: reuse a store already built there (skips ingest)."),
    as_json: bool = JsonOpt,
) -> None:
    """Ingest rate, search p50/p95 (with and without query embedding), recall@5, MRR, DB size, RSS."""
    from ..bench.search_bench import run_search_bench

    with bench_progress(as_json) as cb:
        data = run_search_bench(memories, n_queries=queries, seed=seed, workdir=workdir,
                                settings=get_settings(ctx), progress=cb, reuse=reuse)
    emit(data, as_json, lambda: print_figures(data))


@bench_app.command("poison")
@handles_errors
def bench_poison(
    ctx: typer.Context,
    memories: int = typer.Option(3000, "--memories", "-n", help="Benign corpus size (honest memories)."),
    queries: int = typer.Option(200, "--queries", help="Clean questions for recall@5."),
    targets: int = typer.Option(30, "--targets", help="PoisonedRAG target questions (5 poisoned memories each)."),
    seed: int = typer.Option(0, "--seed"),
    workdir: Path = typer.Option(None, "--workdir", help="Keep the bench database here (default: a temp dir)."),
    as_json: bool = JsonOpt,
) -> None:
    """Memory-poisoning attacks (PoisonedRAG, trigger, sleeper, Sybil) with trust on and off;
    ends with the targets of docs/trust.md next to the measured figures."""
    from ..bench.poison_bench import run_poison_bench

    with bench_progress(as_json) as cb:
        data = run_poison_bench(memories, n_queries=queries, n_targets=targets, seed=seed,
                                settings=get_settings(ctx), workdir=workdir, progress=cb)
    emit(data, as_json, lambda: print_figures(data))


@bench_app.command("locomo")
@handles_errors
def bench_locomo(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", help="LoCoMo JSON file, or a folder holding locomo-dev.json."),
    writer: str = typer.Option("agent", "--writer", help="agent: one remember call per turn (the MCP path); "
                               "operator: one batch import (the CLI add --jsonl path)."),
    dates: bool = typer.Option(True, "--dates/--no-dates", help="Store each turn with its session's date as created_at."),
    sessions: bool = typer.Option(True, "--sessions/--no-sessions", help="Store each turn with its session id (turns then get a context vector)."),
    workdir: Path = typer.Option(None, "--workdir", help="Keep the bench database here (default: a temp dir)."),
    as_json: bool = JsonOpt,
) -> None:
    """LoCoMo protocol: one memory per turn, one namespace per conversation, each question
    recalled with default options; hit@5, recall@5 and MRR@10 per category, recall latency
    (query embedding included) and ingest rate."""
    from ..bench.locomo_bench import run_locomo_bench

    with bench_progress(as_json) as cb:
        out = run_locomo_bench(data, writer=writer, dates=dates, sessions=sessions, workdir=workdir,
                               settings=get_settings(ctx), progress=cb)
    emit(out, as_json, lambda: print_figures(out))


@bench_app.command("trust")
@handles_errors
def bench_trust(
    ctx: typer.Context,
    notes: int = typer.Option(1000, "--notes", "-n", help="Notes the dev-notes agent writes one at a time on day 0 "
                              "(then 2x by bulk import, 0.5x over 5 days); the other workloads scale with it."),
    poison: int = typer.Option(1500, "--poison", help="Honest corpus of the poison attacks (0: skip them)."),
    targets: int = typer.Option(20, "--targets", help="PoisonedRAG target questions of the poison attacks."),
    turns: int = typer.Option(None, "--turns", help="Most LoCoMo-dev turns logged (whole conversations; default all)."),
    seed: int = typer.Option(0, "--seed"),
    workdir: Path = typer.Option(None, "--workdir", help="Keep the bench databases here (default: a temp dir)."),
    as_json: bool = JsonOpt,
) -> None:
    """Honest workloads (templated notes, quoting readers, a conversation logged turn by turn,
    an operator import) next to the attacks (silencing, poisoning), trust on and off: one table."""
    from rich.table import Table

    from ..bench.trust_bench import run_trust_bench

    with bench_progress(as_json) as cb:
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


@bench_app.command("ui")
@handles_errors
def bench_ui(
    ctx: typer.Context,
    memories: int = typer.Option(100_000, "--memories", "-n", help="Store size (real rows and full text, random vectors)."),
    queries: int = typer.Option(200, "--queries", help="Searches typed into the Memories page."),
    seed: int = typer.Option(0, "--seed"),
    workdir: Path = typer.Option(None, "--workdir", help="Keep the bench store here (default: a temp dir)."),
    as_json: bool = JsonOpt,
) -> None:
    """Web UI on a large store: search p50/p95 in the Memories page (whole request, query
    embedded by the real model), paged lists and a memory's page."""
    from ..bench.ui_bench import run_ui_bench

    with bench_progress(as_json) as cb:
        data = run_ui_bench(memories, queries=queries, seed=seed, settings=get_settings(ctx), workdir=workdir,
                            progress=cb)
    emit(data, as_json, lambda: print_figures(data))
