"""mcp-config: the configuration that connects an MCP client to memoryd, printed or merged
into the client's own file."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import typer

from ..errors import ValidationError
from . import app
from ._common import JsonOpt, emit, err_console, get_settings, handles_errors

DEFAULT_PORT = 8765


@app.command("mcp-config")
@handles_errors
def mcp_config(
    ctx: typer.Context,
    client: str = typer.Argument(..., help="claude-code, claude-desktop, cursor, codex or vscode."),
    write: bool = typer.Option(False, "--write", help="Merge memoryd's entry into the client's file (keeping "
                                                      "everything else, backup in FILE.bak) instead of printing it."),
    file: Path = typer.Option(None, "--file", help="The client file to print for or write to (default: the "
                                                   "client's own: .mcp.json, .cursor/mcp.json, .vscode/mcp.json "
                                                   "in this directory, ~/.codex/config.toml, Claude Desktop's)."),
    agent: str = typer.Option(None, "--agent", help="stdio: agent id the client's server runs as (default: the client's name)."),
    http: str = typer.Option(None, "--http", help="Connect to a running `memoryd serve --http` at this URL, e.g. "
                                                  "http://127.0.0.1:8765/mcp; the token comes from $MEMORYD_TOKEN."),
    with_token: bool = typer.Option(False, "--with-token", help="stdio: also pass $MEMORYD_TOKEN from the client's "
                                                                "environment to the server (referenced, never written)."),
    absolute: bool = typer.Option(False, "--absolute", help="Launch this memoryd by its absolute path instead of "
                                                            "`memoryd` on PATH (the file is then not portable)."),
    command: str = typer.Option(None, "--command", help="stdio: the memoryd executable to launch (overrides --absolute)."),
    name: str = typer.Option("memoryd", "--name", help="Server name shown in the client."),
    hooks: bool = typer.Option(False, "--hooks", help="claude-code, with --write: also install the SessionStart and "
                                                      "UserPromptSubmit hooks (`memoryd hook ...`) in .claude/settings.json "
                                                      "next to the .mcp.json."),
    as_json: bool = JsonOpt,
) -> None:
    """Connect an MCP client: print its configuration file's content (stdout holds only the
    file; notes go to stderr), or --write it into the client's file."""
    from ..mcp.client_files import write_client_config
    from ..mcp.clients import CLIENTS, client_config, default_config_path, merge_config
    from ..services.agents import validate_agent_name

    if client not in CLIENTS:
        raise ValidationError(f"unknown client {client!r}; choose one of {', '.join(CLIENTS)}")
    if http and not http.startswith(("http://", "https://")):
        raise ValidationError(f"--http wants a URL such as http://127.0.0.1:{DEFAULT_PORT}/mcp")
    if http and (agent is not None or with_token):
        raise ValidationError("--agent and --with-token are for stdio; over HTTP the token names the agent")
    if hooks and (client != "claude-code" or not write):
        raise ValidationError("--hooks is for claude-code, with --write")
    if agent is not None:
        validate_agent_name(agent)
    if not any(c.isalnum() for c in name):
        raise ValidationError(f"--name must contain a letter or digit, got {name!r}")
    exe = command or (_memoryd_executable() if absolute else "memoryd")
    env = get_settings(ctx).to_env()
    cfg = client_config(client, command=exe, agent=agent, env=env, url=http, with_token=with_token, name=name)
    notes = list(cfg.notes)
    if not http and exe == "memoryd" and shutil.which("memoryd") is None:
        notes.append("`memoryd` is not on PATH: install it with `pipx install .` / `uv tool install .`, or use --absolute")
    if not http:
        notes.append("run `memoryd doctor --warm` once, so the client's first start does not pay for the model export")
    path = (file or default_config_path(client, project=Path.cwd(), home=Path.home(), platform=sys.platform,
                                        env=dict(os.environ))).expanduser()
    data = {"client": client, "transport": cfg.transport, "file": str(path), "format": cfg.format,
            "entry": cfg.entry, "notes": notes}
    if write:
        res = write_client_config(cfg, path)
        data.update(written=res.changed, backup=str(res.backup) if res.backup else None,
                    content=merge_config(cfg, path.read_text(encoding="utf-8")))
        if res.changed:
            msg = f"{'created' if res.created else 'updated'} {path}" + (f" (previous version in {res.backup})" if res.backup else "")
        else:
            msg = f"{path} already holds this entry: nothing written"
        notes.insert(0, msg)
        if hooks:
            hres = _write_hooks(exe, env, path.parent / ".claude" / "settings.json")
            data["hooks"] = {"file": str(hres.path), "written": hres.changed,
                             "backup": str(hres.backup) if hres.backup else None}
            notes.insert(1, (f"hooks installed in {hres.path}" if hres.changed else f"{hres.path} already holds "
                             "memoryd's hooks") + ": memories are injected at session start and with each prompt")
    else:
        data["content"] = cfg.fresh_text()

    def human() -> None:
        if not write:
            sys.stdout.write(data["content"])
            sys.stdout.flush()

    emit(data, as_json, human)
    if not as_json:
        if not write:
            notes.insert(0, f"this is the content of {path} (or `--write` merges it in)")
        for n in notes:
            err_console.print(n, markup=False, highlight=False)


def _write_hooks(exe: str, env: dict[str, str], path: Path):
    from ..mcp.claude_hooks import hook_commands, merge_hooks
    from ..mcp.client_files import write_merged

    commands = hook_commands(exe, env)
    return write_merged(path, lambda existing: merge_hooks(existing, commands))


def _memoryd_executable() -> str:
    exe = Path(sys.argv[0])
    if exe.name == "memoryd" and exe.exists():
        return str(exe.absolute())
    sibling = Path(sys.executable).parent / "memoryd"
    if sibling.exists():
        return str(sibling)
    found = shutil.which("memoryd")
    if found is None:
        raise ValidationError("cannot find the memoryd executable: give --command PATH")
    return str(Path(found).absolute())
