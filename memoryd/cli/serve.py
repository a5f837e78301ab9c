"""serve (the MCP server); `memoryd bench mcp|startup` are in cli/bench.py."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path

import typer

from ..errors import ValidationError
from . import app
from ._common import err_console, get_app, get_settings, handles_errors

DEFAULT_PORT = 8765
log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
@handles_errors
def serve(
    ctx: typer.Context,
    agent: str = typer.Option(None, "--agent", help="stdio without MEMORYD_TOKEN: the (unverified) agent name recorded for every call, default 'mcp'; it reads no private namespace. With MEMORYD_TOKEN in the environment the token decides the agent. Not used with --http, where each request's token names its agent."),
    http: bool = typer.Option(False, "--http", help="Serve streamable HTTP instead of stdio; every request needs a bearer token from `memoryd agents add`."),
    host: str = typer.Option("127.0.0.1", "--host", help="HTTP: address to bind."),
    port: int = typer.Option(DEFAULT_PORT, "--port", min=1, max=65535, help="HTTP: port to bind."),
    path: str = typer.Option("/mcp", "--path", help="HTTP: endpoint path."),
    allow_host: list[str] = typer.Option(None, "--allow-host", help="HTTP on loopback: also answer requests "
                                         "addressed to this name (repeatable), e.g. a TLS proxy's that passes "
                                         "its Host on; others get 421 (docs/security.md)."),
    ui: bool = typer.Option(True, "--ui/--no-ui", help="HTTP: also serve the operator's web UI under /ui (docs/ui.md); "
                            "it logs in with the operator UI token, never an agent's."),
    project: str = typer.Option("auto", "--project", help="stdio: the project whose namespace remember/recall "
                                "default to: auto ($MEMORYD_PROJECT, $CLAUDE_PROJECT_DIR, else the git root of the "
                                "working directory), none, or a namespace."),
) -> None:
    """Run the MCP server: stdio (launched by an MCP client) or streamable HTTP.

    stdio: the agent's token comes from MEMORYD_TOKEN (`memoryd mcp-config CLIENT --with-token`
    references it); without it the server runs as an unverified agent with no private
    namespaces. The server answers MCP initialize and tools/list at once; the embedding model
    and the indexes load in the background, and the first call that needs them waits for them.
    Run `memoryd doctor --warm` once after installing to do the one-off model export ahead."""
    from ..mcp import create_server

    _check_transport_flags(ctx, http)
    app_ = get_app(ctx)
    verbose = logging.getLogger().getEffectiveLevel() <= logging.INFO
    if http:
        if agent is not None:
            raise ValidationError("--agent is for stdio; over HTTP each agent's token decides who it is")
        _check_can_listen(host, port)
        if not _is_loopback(host):
            err_console.print(f"[yellow]warning:[/yellow] listening on {host}: bearer tokens travel in clear "
                              "text unless a TLS proxy sits in front", markup=True)
        n = len([a for a in app_.agents.list() if not a.disabled])
        if n == 0:
            err_console.print("[yellow]warning:[/yellow] no active agents, every request will get 401: "
                              "create one with `memoryd agents add NAME`", markup=True)
        url = f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"  # an IPv6 address in brackets
        server = create_server(app_, require_token=True, on_ready=lambda: err_console.print(
            "memoryd MCP server: embedding model and index loaded", markup=False))
        err_console.print(f"memoryd MCP server on {url} ({n} active agent token(s)); "
                          "loading the embedding model in the background", markup=False)
        from starlette.middleware import Middleware

        from ..ui.guard import HostGuard

        middleware = [Middleware(HostGuard, bound_host=host, allow_hosts=tuple(allow_host or ()))]  # /mcp and /ui: DNS rebinding (docs/security.md)
        if ui:
            from ..ui import TOKEN_FILE, UIMount, create_ui_app, load_or_create_token, ui_url

            token = load_or_create_token(app_.settings.home)
            middleware.append(Middleware(UIMount, ui=create_ui_app(app_, token)))
            # a server's log is kept and read by others (journald, CI): the token stays in its file
            err_console.print(f"operator web UI: {ui_url(host, port)} "
                              f"(log in with the token in {app_.settings.home / TOKEN_FILE})", markup=False)
        server.run(transport="http", host=host, port=port, path=path, show_banner=False,
                   log_level="INFO" if verbose else "WARNING", middleware=middleware)
    else:
        scope = project_scope(project)
        if scope is not None:
            log.info("project scope: %s (from %s)", scope.namespace, scope.origin)
        token = get_settings(ctx).agent_token
        if token:
            server = create_server(app_, token=token, agent_id=agent, project=scope)
        else:
            server = create_server(app_, agent_id=agent or "mcp", project=scope)
        server.run(transport="stdio", show_banner=False, log_level="INFO" if verbose else "WARNING")


def _check_can_listen(host: str, port: int) -> None:
    """Fail before announcing URLs and loading the model when the address is taken (the
    server binds again a moment later; this is a check, not a reservation)."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        raise ValidationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


_HTTP_ONLY = {"host": "--host", "port": "--port", "path": "--path", "ui": "--ui/--no-ui", "allow_host": "--allow-host"}


def _check_transport_flags(ctx: typer.Context, http: bool) -> None:
    """A flag of the other transport is an error, not silently ignored (`serve --port 9000`
    without --http would otherwise start a stdio server)."""
    def given(name: str) -> bool:  # typed on the command line or set from the environment
        source = ctx.get_parameter_source(name)
        return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")

    if not http:
        extra = [flag for name, flag in _HTTP_ONLY.items() if given(name)]
        if extra:
            raise ValidationError(f"{', '.join(extra)} {'is' if len(extra) == 1 else 'are'} for --http; "
                                  "without --http memoryd serves stdio (what an MCP client launches)")
    elif given("project"):
        raise ValidationError("--project is for stdio; over HTTP the server applies no project scope")


def project_scope(value: str, env: dict[str, str] | None = None):  # -> ProjectScope | None
    """--project auto|none|NAMESPACE, as used by `serve`, `hook` and `context`."""
    from ..project import resolve_project

    if value == "none":
        return None
    if value == "auto":
        try:
            return resolve_project(os.environ if env is None else env, Path.cwd())
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
    try:
        return resolve_project({"MEMORYD_PROJECT": value})
    except ValueError as exc:
        raise ValidationError(str(exc).replace("MEMORYD_PROJECT", "--project")) from None
