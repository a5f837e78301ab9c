"""The `memoryd` command line: thin adapters over the services.

Command groups live in their own modules and register on `app` when imported below.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="memoryd",
    help="memoryd: a privacy-first memory server for AI agents.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"memoryd {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    db: Path = typer.Option(None, "--db", help="SQLite file to use (default: $MEMORYD_DB or $MEMORYD_HOME/memoryd.db)."),
    home: Path = typer.Option(None, "--home", help="memoryd home directory (default: $MEMORYD_HOME or ~/.local/share/memoryd)."),
    model: Path = typer.Option(None, "--model", help="Path of a sentence-transformers model directory."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print memoryd's version and exit."),
) -> None:
    """memoryd: store, search and truly erase what AI agents remember."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"db": db, "home": home, "model": model}


from . import memories as _memories  # noqa: E402,F401  (registers commands)
from . import bench as _bench  # noqa: E402,F401
from . import erase as _erase  # noqa: E402,F401
from . import serve as _serve  # noqa: E402,F401
from . import mcp_config as _mcp_config  # noqa: E402,F401
from . import importing as _importing  # noqa: E402,F401
from . import hooks as _hooks  # noqa: E402,F401
from . import agents as _agents  # noqa: E402,F401
from . import trust as _trust  # noqa: E402,F401
from . import graph as _graph  # noqa: E402,F401
from . import ledger as _ledger  # noqa: E402,F401
from . import ui as _ui  # noqa: E402,F401


def main() -> None:
    app()
