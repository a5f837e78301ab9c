"""Configuration snippets that connect MCP clients to memoryd (``memoryd mcp-config``).

stdio (default): the client launches ``memoryd serve --agent NAME`` itself. With a token
the snippet puts it in the launch environment (``MEMORYD_TOKEN``) and the token decides the
agent; without one the server runs as an unverified agent that reads no private namespace. HTTP: the client connects to a running
``memoryd serve --http`` and sends ``Authorization: Bearer <token>``.
Pure functions: no I/O, so the snippets are easy to test and to regenerate into examples/.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlparse

__all__ = ["CLIENTS", "Snippet", "client_snippets", "TOKEN_PLACEHOLDER", "TOKEN_ENV"]

CLIENTS = ("claude-code", "claude-desktop", "cursor", "codex", "vscode")
TOKEN_PLACEHOLDER = "<TOKEN>"
TOKEN_ENV = "MEMORYD_TOKEN"


@dataclass(frozen=True)
class Snippet:
    label: str
    where: str  # the file it goes in, or "shell"
    language: str  # json | toml | sh
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _toml_table(name: str, values: dict[str, Any]) -> str:
    lines = [f"[mcp_servers.{name}]"]
    for k, v in values.items():
        if isinstance(v, dict):
            lines.append(f"{k} = {{ {', '.join(f'{kk} = {_toml_str(vv)}' for kk, vv in v.items())} }}")
        elif isinstance(v, list):
            lines.append(f"{k} = [{', '.join(_toml_str(x) for x in v)}]")
        else:
            lines.append(f"{k} = {_toml_str(v)}")
    return "\n".join(lines) + "\n"


def _loopback(url: str) -> bool:
    return (urlparse(url).hostname or "") in {"127.0.0.1", "localhost", "::1"}


def client_snippets(
    client: str,
    *,
    command: list[str],
    agent: str | None = None,
    url: str | None = None,
    token: str | None = None,
    name: str = "memoryd",
) -> list[Snippet]:
    """Snippets for one client. ``command`` launches memoryd (e.g. ["memoryd"] or
    ["/venv/bin/memoryd", "--db", "/data/m.db"]); ``serve --agent`` is appended for stdio."""
    if client not in CLIENTS:
        raise ValueError(f"unknown client {client!r}; choose one of {', '.join(CLIENTS)}")
    if url is None:
        who = [] if token and agent is None else ["--agent", agent or client]  # a token names its agent
        return _stdio(client, command[0], [*command[1:], "serve", *who], name, token)
    return _http(client, url, token, name)


def _stdio(client: str, exe: str, args: list[str], name: str, token: str | None = None) -> list[Snippet]:
    env = {TOKEN_ENV: token} if token else {}
    server: dict[str, Any] = {"command": exe, "args": args, **({"env": env} if env else {})}
    if client == "claude-code":
        flags = f"-e {shlex.quote(f'{TOKEN_ENV}={token}')} " if token else ""
        return [
            Snippet("Claude Code: add for this user", "shell", "sh",
                    f"claude mcp add --scope user {flags}{shlex.quote(name)} -- {shlex.join([exe, *args])}\n"),
            Snippet("Claude Code: or commit it with the project", ".mcp.json", "json",
                    _json({"mcpServers": {name: {"type": "stdio", "command": exe, "args": args, "env": env}}})),
        ]
    if client == "claude-desktop":
        return [Snippet("Claude Desktop", "claude_desktop_config.json", "json", _json({"mcpServers": {name: server}}))]
    if client == "cursor":
        return [Snippet("Cursor", "~/.cursor/mcp.json (or .cursor/mcp.json in a project)", "json",
                        _json({"mcpServers": {name: server}}))]
    if client == "codex":
        return [Snippet("Codex", "~/.codex/config.toml", "toml", _toml_table(name, server))]
    return [Snippet("VS Code", ".vscode/mcp.json", "json", _json({"servers": {name: {"type": "stdio", **server}}}))]


def _http(client: str, url: str, token: str | None, name: str) -> list[Snippet]:
    tok = token or TOKEN_PLACEHOLDER
    if client == "claude-code":
        return [
            Snippet("Claude Code: add for this user", "shell", "sh",
                    f"claude mcp add --scope user --transport http {shlex.quote(name)} {shlex.quote(url)}"
                    f" --header {shlex.quote('Authorization: Bearer ' + tok)}\n"),
            Snippet(f"Claude Code: or commit it with the project (export {TOKEN_ENV}=<token> first)", ".mcp.json", "json",
                    _json({"mcpServers": {name: {"type": "http", "url": url,
                                                 "headers": {"Authorization": f"Bearer ${{{TOKEN_ENV}}}"}}}})),
        ]
    if client == "claude-desktop":
        args = ["-y", "mcp-remote", url, "--header", "Authorization:${MEMORYD_AUTH}"]
        if urlparse(url).scheme == "http" and not _loopback(url):
            args.append("--allow-http")
        server = {"command": "npx", "args": args, "env": {"MEMORYD_AUTH": f"Bearer {tok}"}}
        return [Snippet("Claude Desktop (through the mcp-remote bridge; or use the stdio snippet)",
                        "claude_desktop_config.json", "json", _json({"mcpServers": {name: server}}))]
    if client == "cursor":
        return [Snippet("Cursor", "~/.cursor/mcp.json (or .cursor/mcp.json in a project)", "json",
                        _json({"mcpServers": {name: {"url": url, "headers": {"Authorization": f"Bearer {tok}"}}}}))]
    if client == "codex":
        return [
            Snippet("Codex (it reads the token from an environment variable)", "~/.codex/config.toml", "toml",
                    _toml_table(name, {"url": url, "bearer_token_env_var": TOKEN_ENV})),
            Snippet("Codex: the token, in the environment Codex starts from", "shell", "sh",
                    f"export {TOKEN_ENV}={shlex.quote(tok)}\n"),
        ]
    if token:
        server = {"type": "http", "url": url, "headers": {"Authorization": f"Bearer {token}"}}
        return [Snippet("VS Code", ".vscode/mcp.json", "json", _json({"servers": {name: server}}))]
    server = {"type": "http", "url": url, "headers": {"Authorization": "Bearer ${input:memoryd-token}"}}
    inputs = [{"type": "promptString", "id": "memoryd-token", "password": True,
               "description": "memoryd agent token (from: memoryd agents add NAME)"}]
    return [Snippet("VS Code (asks for the token once)", ".vscode/mcp.json", "json",
                    _json({"servers": {name: server}, "inputs": inputs}))]
