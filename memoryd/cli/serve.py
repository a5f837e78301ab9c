"""serve (the MCP server), mcp-config (client snippets), bench mcp."""

from __future__ import annotations

import ipaddress
import logging
import sys
from pathlib import Path

import typer

from ..errors import ValidationError
from . import app
from .bench import _progress, bench_app, print_figures
from ._common import JsonOpt, console, emit, err_console, get_app, get_settings, handles_errors

DEFAULT_PORT = 8765


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
    port: int = typer.Option(DEFAULT_PORT, "--port", help="HTTP: port to bind."),
    path: str = typer.Option("/mcp", "--path", help="HTTP: endpoint path."),
) -> None:
    """Run the MCP server: stdio (launched by an MCP client) or streamable HTTP.

    stdio: the agent's token comes from MEMORYD_TOKEN (memoryd mcp-config --token writes
    it); without it the server runs as an unverified agent with no private namespaces.
    The embedding model and vector index load before the first request is accepted."""
    from ..mcp import create_server

    app_ = get_app(ctx)
    verbose = logging.getLogger().getEffectiveLevel() <= logging.INFO
    if http:
        if agent is not None:
            raise ValidationError("--agent is for stdio; over HTTP each agent's token decides who it is")
        if not _is_loopback(host):
            err_console.print(f"[yellow]warning:[/yellow] listening on {host}: bearer tokens travel in clear "
                              "text unless a TLS proxy sits in front", markup=True)
        n = len([a for a in app_.agents.list() if not a.disabled])
        if n == 0:
            err_console.print("[yellow]warning:[/yellow] no active agents, every request will get 401: "
                              "create one with `memoryd agents add NAME`", markup=True)
        url = f"http://{host}:{port}{path}"
        server = create_server(app_, require_token=True, on_ready=lambda: err_console.print(
            f"memoryd MCP server ready on {url} ({n} active agent token(s))", markup=False))
        err_console.print("memoryd MCP server: loading the embedding model...", markup=False)
        server.run(transport="http", host=host, port=port, path=path, show_banner=False,
                   log_level="INFO" if verbose else "WARNING")
    else:
        token = get_settings(ctx).agent_token
        if token:
            server = create_server(app_, token=token, agent_id=agent)
        else:
            server = create_server(app_, agent_id=agent or "mcp")
        server.run(transport="stdio", show_banner=False, log_level="INFO" if verbose else "WARNING")


@app.command("mcp-config")
@handles_errors
def mcp_config(
    ctx: typer.Context,
    client: str = typer.Argument(..., help="claude-code, claude-desktop, cursor, codex or vscode."),
    agent: str = typer.Option(None, "--agent", help="stdio: agent id the client's server runs as (default: the client's name)."),
    http: str = typer.Option(None, "--http", help="Connect to a running `memoryd serve --http` at this URL, e.g. http://127.0.0.1:8765/mcp."),
    token: str = typer.Option(None, "--token", help="The agent's token (from `memoryd agents add`). HTTP: sent as the bearer token (a placeholder without it). stdio: written as MEMORYD_TOKEN into the launch environment (without it the server runs as an unverified agent reading no private namespace)."),
    name: str = typer.Option("memoryd", "--name", help="Server name shown in the client."),
    command: str = typer.Option(None, "--command", help="stdio: the memoryd executable to launch (default: this one's absolute path)."),
    as_json: bool = JsonOpt,
) -> None:
    """Print the configuration snippet that connects an MCP client to memoryd."""
    from ..mcp.clients import CLIENTS, client_snippets
    from ..services.agents import validate_agent_name

    if client not in CLIENTS:
        raise ValidationError(f"unknown client {client!r}; choose one of {', '.join(CLIENTS)}")
    if http and not http.startswith(("http://", "https://")):
        raise ValidationError(f"--http wants a URL such as http://127.0.0.1:{DEFAULT_PORT}/mcp")
    if agent is not None:
        validate_agent_name(agent)
    launch = [command or _memoryd_executable()]
    obj = ctx.find_root().obj or {}
    for opt in ("home", "db", "model"):  # the client's server must open the same database
        if obj.get(opt) is not None:
            launch += [f"--{opt}", str(Path(obj[opt]).expanduser().resolve())]
    snippets = client_snippets(client, command=launch, agent=agent, url=http, token=token, name=name)
    data = {"client": client, "transport": "http" if http else "stdio", "snippets": [s.to_dict() for s in snippets]}

    def human() -> None:
        for i, s in enumerate(snippets):
            if i:
                console.print()
            console.print(f"# {s.label} -> {s.where}", markup=False, highlight=False)
            sys.stdout.write(s.text)
            sys.stdout.flush()

    emit(data, as_json, human)


def _memoryd_executable() -> str:
    exe = Path(sys.argv[0])
    if exe.name == "memoryd" and exe.exists():
        return str(exe.resolve())
    sibling = Path(sys.executable).parent / "memoryd"
    return str(sibling) if sibling.exists() else "memoryd"


@bench_app.command("mcp")
@handles_errors
def bench_mcp(
    ctx: typer.Context,
    agents: str = typer.Option("10,50", "--agents", help="Concurrent agent processes per round, comma-separated (0: only the stdio measurement)."),
    ops: int = typer.Option(20, "--ops", help="Tool calls per agent per round (a remember/recall mix)."),
    recall_share: float = typer.Option(0.5, "--recall-share", help="Fraction of calls that are recall (the rest remember)."),
    corpus: int = typer.Option(500, "--corpus", help="Memories stored before the rounds."),
    stdio_calls: int = typer.Option(100, "--stdio-calls", help="Recall calls for the stdio overhead measurement."),
    seed: int = typer.Option(0, "--seed"),
    workdir: Path = typer.Option(None, "--workdir", help="Keep the bench database here (default: a temp dir)."),
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
    prog, cb = _progress(as_json)
    if prog:
        prog.start()
    try:
        data = run_mcp_bench(counts, ops_per_agent=ops, recall_share=recall_share, corpus_size=corpus,
                             stdio_calls=stdio_calls, seed=seed, workdir=workdir,
                             settings=get_settings(ctx), progress=cb)
    finally:
        if prog:
            prog.stop()
    emit(data, as_json, lambda: print_figures(data))
