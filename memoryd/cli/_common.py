"""Helpers shared by CLI commands: app access, output, error mapping."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..app import App
from ..config import Settings
from ..errors import MemorydError, ValidationError

__all__ = ["console", "err_console", "get_settings", "get_app", "emit", "handles_errors", "print_error", "fmt_time", "JsonOpt", "progress_bars", "ProgressFn",
           "print_figures"]

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")


def get_settings(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj or {}
    return Settings.load(home=obj.get("home"), db=obj.get("db"), model=obj.get("model"))


def get_app(ctx: typer.Context, *, read_only: bool = False) -> App:
    """The App of this command. ``read_only``: a command that only reads (search, list, show,
    stats, export, context, doctor, the hooks, the trust and graph views) or has nothing to act
    on without a store (forget, update, retag, feedback, erase and its receipts, the agents
    but `agents add`, the models, reindex, graph rebuild/export/plot, trust sweep, quarantine)
    does not create a store at a path the user gave
    (--db, --home, MEMORYD_DB, MEMORYD_HOME): a typo there fails with StoreError (exit 3)
    instead of answering from a new empty store. The default home is created as before, so a
    fresh install answers every command."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    root.obj = obj
    if "app" not in obj:
        explicit = bool(obj.get("db") or obj.get("home") or os.environ.get("MEMORYD_DB") or os.environ.get("MEMORYD_HOME"))
        obj["app"] = App(get_settings(ctx), create=not (read_only and explicit))
        root.call_on_close(obj["app"].close)
    return obj["app"]


def _jsonable(data: Any) -> Any:
    """Objects with to_dict() (the services' results), and lists of them, as plain data."""
    if hasattr(data, "to_dict"):
        return data.to_dict()
    if isinstance(data, (list, tuple)):
        return [_jsonable(x) for x in data]
    return data


def emit(data: Any, as_json: bool, human: Callable[[], None]) -> None:
    """`data` (plain data, a result with to_dict(), or a list of them) as JSON on stdout
    with --json, else the human rendering."""
    if as_json:
        sys.stdout.write(json.dumps(_jsonable(data), ensure_ascii=False, indent=2, default=str) + "\n")
        sys.stdout.flush()
    else:
        human()


def _check_utf8_args(kwargs: dict[str, Any]) -> None:
    """Argv bytes that are not UTF-8 reach Python as lone surrogates; a text argument holding
    one cannot be searched, stored or compared, so it is refused here by name (paths are
    `Path`s and keep their bytes)."""
    for name, value in kwargs.items():
        for v in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(v, str):
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValidationError(f"{name.replace('_', '-')} is not valid UTF-8: {v!r}") from None


def print_error(as_json: bool, kind: str, message: str, exit_code: int) -> None:
    """One error line on stderr: `error: MESSAGE`, or with --json
    `{"error": {"type": KIND, "message": MESSAGE, "exit_code": N}}`."""
    if as_json:
        body = {"error": {"type": kind, "message": message, "exit_code": exit_code}}
        sys.stderr.write(json.dumps(body, ensure_ascii=False) + "\n")
        sys.stderr.flush()
    else:
        err_console.print(f"[red]error:[/red] {message}", markup=True, highlight=False)


def handles_errors(fn: Callable) -> Callable:
    """Domain errors become one line on stderr and a non-zero exit (never a traceback); with
    --json that line is `{"error": {"type", "message", "exit_code"}}` (stdout stays empty)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            _check_utf8_args(kwargs)
            return fn(*args, **kwargs)
        except MemorydError as exc:
            print_error(bool(kwargs.get("as_json")), type(exc).__name__, str(exc), exc.exit_code)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def fmt_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def print_figures(data: dict, prefix: str = "") -> None:
    """Nested figures as indented `key: value` lines (benchmarks, graph rebuild)."""
    for k, v in data.items():
        if isinstance(v, dict):
            console.print(f"{prefix}{k}:")
            print_figures(v, prefix + "  ")
        else:
            console.print(f"{prefix}{k}: {v}")


ProgressFn = Callable[[str, int, int], None]


@contextmanager
def progress_bars(quiet: bool) -> Iterator[ProgressFn]:
    """Progress bars on stderr, one per stage (`cb(stage, done, total)`), for the duration of a
    long job: a benchmark, `adapt`. None when quiet (--json keeps stdout and stderr clean)."""
    if quiet:
        yield lambda *a: None
        return
    prog = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err_console, transient=True)
    tasks: dict[str, int] = {}

    def cb(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = prog.add_task(stage, total=total)
        prog.update(tasks[stage], completed=done)

    with prog:
        yield cb
