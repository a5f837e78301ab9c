"""`memoryd agents add|list|scopes|revoke|rotate|private`: who may call the MCP server, and what it may do."""

from __future__ import annotations

import typer
from rich.table import Table

from . import app
from ._common import JsonOpt, console, emit, err_console, fmt_time, get_app, handles_errors

agents_app = typer.Typer(help="Agents: bearer tokens for the HTTP MCP server and private namespaces.", no_args_is_help=True)
app.add_typer(agents_app, name="agents")


def _show_token(name: str, token: str, as_json: bool, data: dict) -> None:
    def human() -> None:
        console.print(f"agent [bold]{name}[/bold]; its token (shown once, store it now):", markup=True)
        console.print(token, markup=False, highlight=False, soft_wrap=True)
        err_console.print("connect a client: export MEMORYD_TOKEN=<the token> where the client starts, then "
                          "memoryd mcp-config CLIENT --http http://127.0.0.1:8765/mcp --write", markup=False)

    emit(data, as_json, human)


@agents_app.command("add")
@handles_errors
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Agent name, recorded as provenance (letters, digits, _ and -)."),
    private_namespace: list[str] = typer.Option(None, "--private-namespace", "-p", help="Make this namespace private to the agent (repeatable)."),
    scope: list[str] = typer.Option(None, "--scope", "-s", help="What the token may do: read, write, forget (its own memories), erase (GDPR erasure of what it can read). Repeatable or comma-separated; default read, write, forget."),
    as_json: bool = JsonOpt,
) -> None:
    """Create an agent and print its bearer token once (only a salted hash is stored)."""
    issued = get_app(ctx).agents.add(name, private_namespace or (), _scopes(scope) if scope else None)
    _show_token(name, issued.token, as_json, {**issued.agent.to_dict(), "token": issued.token})


def _scopes(values: list[str]) -> list[str]:
    return [s for v in values for s in v.split(",")]


@agents_app.command("scopes")
@handles_errors
def scopes(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Agent name."),
    scope: list[str] = typer.Option(..., "--scope", "-s", help="The new scopes (replacing the old): read, write, forget, erase. Repeatable or comma-separated."),
    as_json: bool = JsonOpt,
) -> None:
    """Replace an agent's scopes; they apply from its next call."""
    a = get_app(ctx, read_only=True).agents.set_scopes(name, _scopes(scope))
    emit(a, as_json, lambda: console.print(f"{a.id}: {', '.join(a.scopes) or 'no scopes'}"))


@agents_app.command("rotate")
@handles_errors
def rotate(ctx: typer.Context, name: str = typer.Argument(..., help="Agent name."), as_json: bool = JsonOpt) -> None:
    """Issue a new token for an agent (the old one stops working; re-enables a revoked agent)."""
    issued = get_app(ctx, read_only=True).agents.rotate(name)
    _show_token(name, issued.token, as_json, {**issued.agent.to_dict(), "token": issued.token})


@agents_app.command("list")
@handles_errors
def list_(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """List agents, whether they are revoked, their scopes and private namespaces (never tokens)."""
    agents = get_app(ctx, read_only=True).agents.list()

    def human() -> None:
        if not agents:
            console.print("no agents yet: memoryd agents add NAME")
            return
        t = Table("agent", "created", "status", "scopes", "private namespaces")
        for a in agents:
            t.add_row(a.id, fmt_time(a.created_at), "revoked" if a.disabled else "active",
                      ", ".join(a.scopes) or "-", ", ".join(a.private_namespaces) or "-")
        console.print(t)

    emit(agents, as_json, human)


@agents_app.command("revoke")
@handles_errors
def revoke(ctx: typer.Context, name: str = typer.Argument(..., help="Agent name."), as_json: bool = JsonOpt) -> None:
    """Revoke an agent: its token is refused (HTTP 401) from the next request on."""
    a = get_app(ctx, read_only=True).agents.revoke(name)
    emit(a, as_json, lambda: console.print(f"revoked {a.id}"))


@agents_app.command("private")
@handles_errors
def private(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Agent name."),
    namespace: str = typer.Argument(..., help="Namespace to make private to this agent."),
    as_json: bool = JsonOpt,
) -> None:
    """Make a namespace private: over MCP only this agent can read or write it."""
    a = get_app(ctx, read_only=True).agents.make_private(name, namespace)
    emit(a, as_json, lambda: console.print(f"namespace {namespace} is private to {a.id}"))
