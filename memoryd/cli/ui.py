"""`memoryd ui`: the local web dashboard (docs/ui.md)."""

from __future__ import annotations

import logging

import typer

from ..errors import ValidationError
from . import app
from ._common import JsonOpt, console, emit, err_console, get_app, handles_errors
from .serve import _is_loopback

DEFAULT_UI_PORT = 8766


@app.command("ui")
@handles_errors
def ui(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (keep it on loopback: the UI can erase everything)."),
    port: int = typer.Option(DEFAULT_UI_PORT, "--port", min=0, max=65535, help="Port to bind (0: any free port)."),
    allow_host: list[str] = typer.Option(None, "--allow-host", help="On loopback: also answer requests addressed "
                                         "to this name (repeatable), e.g. a TLS proxy's; others get 421."),
    new_token: bool = typer.Option(False, "--new-token", help="Replace the operator UI token (logs every browser out)."),
    print_only: bool = typer.Option(False, "--print-url", help="Print the login URL and exit without serving."),
    as_json: bool = JsonOpt,
) -> None:
    """Serve the web dashboard (Memories, Graph, Trust, Erasure, Models) for the operator.

    Prints a login URL carrying the operator UI token (stored 0600 as ui.token in the
    memoryd home; agents' tokens never log in). Opening it sets an HttpOnly, SameSite=Strict
    session cookie. With --json the URL is printed as one JSON line before serving."""
    import socket

    import uvicorn

    from ..ui import create_ui_app, load_or_create_token, login_url
    from ..ui import new_token as make_token

    app_ = get_app(ctx)
    token = make_token(app_.settings.home) if new_token else load_or_create_token(app_.settings.home)
    if not _is_loopback(host):
        err_console.print(f"[yellow]warning:[/yellow] listening on {host}: the UI token and every page travel "
                          "in clear text unless a TLS proxy sits in front", markup=True)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ValidationError(f"cannot listen on {host}:{port}: {exc.strerror} (try --port 0 for any free port)") from None
    bound = sock.getsockname()[1]
    url = login_url(host, bound, token)
    data = {"url": url, "host": host, "port": bound, "token_file": str(app_.settings.home / "ui.token")}
    emit(data, as_json, lambda: console.print(f"memoryd UI on http://{host}:{bound}/ui/ - open:\n{url}", markup=False,
                                                soft_wrap=True))
    if print_only:
        sock.close()
        return
    verbose = logging.getLogger().getEffectiveLevel() <= logging.INFO
    server = uvicorn.Server(uvicorn.Config(create_ui_app(app_, token, host=host, allow_hosts=tuple(allow_host or ())), log_level="info" if verbose else "warning",
                                           lifespan="off", timeout_graceful_shutdown=2))
    sweeper = app_.start_erasure_sweeper()  # finish erasures left pending (docs/erasure.md)
    try:
        server.run(sockets=[sock])
    finally:
        if sweeper is not None:
            sweeper.stop()
