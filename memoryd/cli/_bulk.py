"""Bulk imports with a progress bar (`add --jsonl`, `import`), and what a Ctrl-C or a store
error half-way says."""

from __future__ import annotations

from contextlib import nullcontext as _nullcontext

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..errors import MemorydError
from ._common import err_console, print_error

__all__ = ["import_with_progress"]


def import_with_progress(app_, items, quiet: bool):
    """remember_many with a progress bar (none when quiet). It commits a chunk at a time, so a
    Ctrl-C or a store error half-way leaves the chunks before it stored: say how far it got
    (exit 130 for Ctrl-C) and that running the same import again finishes it (what is stored
    already comes back as duplicates)."""
    done = [0]
    prog = _nullcontext() if quiet or not items else Progress(
        TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err_console, transient=True)
    try:
        with prog:
            task = prog.add_task("import", total=len(items)) if isinstance(prog, Progress) else None

            def advance(n: int) -> None:
                done[0] += n
                if task is not None:
                    prog.advance(task, n)

            return app_.memories.remember_many(items, progress=advance)
    except KeyboardInterrupt:
        print_error(quiet, "Interrupted", f"interrupted after {done[0]} of {len(items)} records (those are stored); "
                                         "run the same command again to import the rest: stored ones are skipped", 130)
        raise typer.Exit(130) from None
    except MemorydError as exc:
        if not done[0]:
            raise
        raise type(exc)(f"{exc} (the first {done[0]} of {len(items)} records were stored before it: run the same "
                        "command again to import the rest, stored ones are skipped)") from exc
