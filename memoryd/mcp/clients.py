"""Client configurations that connect MCP clients to memoryd (``memoryd mcp-config``).

For each client: the file it reads, the entry memoryd needs in it, and how to merge that
entry into an existing file while keeping everything else. Pure functions (text in, text
out): the file I/O (backup, atomic replace) is in ``client_files.py``.

stdio (default): the client launches ``memoryd serve --agent NAME`` itself; every memoryd
setting that is not a default travels in the entry's ``env``. HTTP: the client connects to a
running ``memoryd serve --http`` and sends ``Authorization: Bearer <token>``. Tokens are never
written into a file: each entry references ``$MEMORYD_TOKEN`` in the client's own syntax.

| client         | file                                   | root key     | variable syntax        |
|----------------|----------------------------------------|--------------|------------------------|
| claude-code    | .mcp.json (project)                    | mcpServers   | ``${VAR}``             |
| claude-desktop | claude_desktop_config.json (per OS)    | mcpServers   | none (not expanded)    |
| cursor         | .cursor/mcp.json (or ~/.cursor/...)    | mcpServers   | ``${env:VAR}``         |
| codex          | ~/.codex/config.toml ($CODEX_HOME)     | mcp_servers  | env_vars / *_env_var   |
| vscode         | .vscode/mcp.json                       | servers      | ``${env:VAR}``         |
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..jsontext import load_object

__all__ = ["CLIENTS", "TOKEN_ENV", "CODEX_STARTUP_TIMEOUT_SEC", "ClientConfig", "ConfigFormatError",
           "client_config", "default_config_path", "merge_config"]

CLIENTS = ("claude-code", "claude-desktop", "cursor", "codex", "vscode")
TOKEN_ENV = "MEMORYD_TOKEN"
CODEX_STARTUP_TIMEOUT_SEC = 60  # Codex gives up after 10 s by default; a cold first start can take longer


class ConfigFormatError(ValueError):
    """An existing client file memoryd cannot merge into safely (not parseable, wrong shape)."""


@dataclass(frozen=True)
class ClientConfig:
    client: str
    transport: str  # stdio | http
    name: str  # the server's name in the client
    format: str  # json | toml
    root_key: str  # mcpServers | servers | mcp_servers
    entry: dict[str, Any]  # memoryd's server entry
    notes: list[str] = field(default_factory=list)  # for the user (stderr), never in the file

    def fresh_text(self) -> str:
        """The whole file, holding only memoryd's entry."""
        return merge_config(self, None)


def _ref(client: str, var: str) -> str | None:
    """How the client's config file refers to an environment variable (None: it cannot)."""
    return {"claude-code": f"${{{var}}}", "cursor": f"${{env:{var}}}", "vscode": f"${{env:{var}}}"}.get(client)


def default_config_path(client: str, *, project: Path, home: Path, platform: str, env: dict[str, str]) -> Path:
    """Where the client reads its MCP servers (project files relative to ``project``)."""
    if client == "claude-code":
        return project / ".mcp.json"
    if client == "cursor":
        return project / ".cursor" / "mcp.json"
    if client == "vscode":
        return project / ".vscode" / "mcp.json"
    if client == "codex":
        return Path(env.get("CODEX_HOME") or home / ".codex") / "config.toml"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if platform.startswith("win"):
        return Path(env.get("APPDATA") or home / "AppData" / "Roaming") / "Claude" / "claude_desktop_config.json"
    return Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "Claude" / "claude_desktop_config.json"


def client_config(
    client: str,
    *,
    command: str = "memoryd",
    agent: str | None = None,
    env: dict[str, str] | None = None,
    url: str | None = None,
    with_token: bool = False,
    name: str = "memoryd",
) -> ClientConfig:
    """memoryd's entry for one client. ``env``: the memoryd settings that are not defaults
    (``config.settings_env``). ``with_token``: stdio servers also get ``MEMORYD_TOKEN`` from
    the client's environment (HTTP always needs it)."""
    if client not in CLIENTS:
        raise ValueError(f"unknown client {client!r}; choose one of {', '.join(CLIENTS)}")
    fmt, root = ("toml", "mcp_servers") if client == "codex" else ("json", "servers" if client == "vscode" else "mcpServers")
    if url is None:
        entry, notes = _stdio(client, command, agent or client, dict(env or {}), with_token)
    else:
        entry, notes = _http(client, url)
    return ClientConfig(client, "http" if url else "stdio", name, fmt, root, entry, notes)


def _stdio(client: str, command: str, agent: str, env: dict[str, str], with_token: bool) -> tuple[dict, list[str]]:
    notes: list[str] = []
    entry: dict[str, Any] = {"command": command, "args": ["serve", "--agent", agent]}
    if client in ("claude-code", "vscode"):
        entry = {"type": "stdio", **entry}
    ref = _ref(client, TOKEN_ENV)
    if client == "codex":
        entry["startup_timeout_sec"] = CODEX_STARTUP_TIMEOUT_SEC
        if env:
            entry["env"] = env
        if with_token:
            entry["env_vars"] = [TOKEN_ENV]  # Codex passes these through from its own environment
        return entry, notes
    if with_token:
        if ref is None:
            notes.append(f"{client} does not expand variables in its config: the token is not written; "
                         f"set {TOKEN_ENV} in the environment {client} starts from")
        else:
            env[TOKEN_ENV] = ref
    entry["env"] = env
    if client == "claude-code":
        line = shlex.join(["claude", "mcp", "add", "--scope", "user",
                           *[f"--env={k}={v}" for k, v in env.items() if k != TOKEN_ENV],
                           "memoryd", "--", command, *entry["args"]])
        notes.append(f"or, for every project of this user: {line}")
    if client == "claude-desktop" and "/" not in command:
        notes.append("Claude Desktop may not see your shell's PATH: if it cannot start memoryd, "
                     "run `memoryd mcp-config claude-desktop --absolute --write`")
    return entry, notes


def _http(client: str, url: str) -> tuple[dict, list[str]]:
    notes = [f"export {TOKEN_ENV}=<token from `memoryd agents add NAME`> in the environment the client starts from"]
    ref = _ref(client, TOKEN_ENV)
    if client == "codex":
        return {"url": url, "bearer_token_env_var": TOKEN_ENV}, notes
    if client == "claude-desktop":  # no remote servers in the file: the mcp-remote bridge, which expands ${VAR}
        args = ["-y", "mcp-remote", url, "--header", "Authorization:${MEMORYD_AUTH}"]
        if urlparse(url).scheme == "http" and (urlparse(url).hostname or "") not in {"127.0.0.1", "localhost", "::1"}:
            args.append("--allow-http")
        return {"command": "npx", "args": args}, [
            "Claude Desktop does not expand variables in its config: set MEMORYD_AUTH='Bearer <token>' "
            "in the environment Claude Desktop starts from (mcp-remote reads it)"]
    headers = {"Authorization": f"Bearer {ref}"}
    if client == "cursor":
        return {"url": url, "headers": headers}, notes
    return {"type": "http", "url": url, "headers": headers}, notes


# ---- merging into an existing file ------------------------------------------------------------
def merge_config(cfg: ClientConfig, existing: str | None) -> str:
    """The file's new text: ``existing`` with memoryd's entry added or replaced and everything
    else kept. The same input gives the same output (idempotent)."""
    if cfg.format == "json":
        return _merge_json(cfg, existing)
    return _merge_toml(cfg, existing)


def _merge_json(cfg: ClientConfig, existing: str | None) -> str:
    data = load_object(existing, ConfigFormatError,
                       hint="; comments are not supported: add memoryd's entry by hand")
    servers = data.setdefault(cfg.root_key, {})
    if not isinstance(servers, dict):
        raise ConfigFormatError(f"{cfg.root_key!r} is not a JSON object")
    servers[cfg.name] = cfg.entry
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)  # a JSON string is a valid TOML basic string


_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(k: str) -> str:
    return k if _BARE.match(k) else json.dumps(k)


def _toml_block(cfg: ClientConfig) -> str:
    table = f"{cfg.root_key}.{_toml_key(cfg.name)}"
    lines = [f"[{table}]"]
    subtables = []
    for k, v in cfg.entry.items():
        if isinstance(v, dict):
            subtables.append((k, v))
        else:
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in subtables:
        lines += ["", f"[{table}.{_toml_key(k)}]", *[f"{_toml_key(a)} = {_toml_value(b)}" for a, b in v.items()]]
    return "\n".join(lines) + "\n"


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _header_path(line: str) -> list[str] | None:
    m = _HEADER.match(line)
    if not m:
        return None
    try:  # read the dotted key with tomllib itself (quoted parts, spaces)
        probe = tomllib.loads(f"[{m.group(1)}]\n")
    except tomllib.TOMLDecodeError:
        return None
    path: list[str] = []
    while isinstance(probe, dict) and len(probe) == 1:
        key = next(iter(probe))
        path.append(key)
        probe = probe[key]
    return path


def _merge_toml(cfg: ClientConfig, existing: str | None) -> str:
    text = existing or ""
    try:
        before = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFormatError(f"not valid TOML ({exc})") from None
    ours = [cfg.root_key, cfg.name]
    kept: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        path = _header_path(line)
        if path is not None:
            skipping = path[:2] == ours
        if not skipping:
            kept.append(line)
    body = "".join(kept).rstrip("\n")
    out = (body + "\n\n" if body else "") + _toml_block(cfg)
    try:
        after = tomllib.loads(out)
    except tomllib.TOMLDecodeError:
        after = None
    # what we did not write must be exactly what was there (an inline table we cannot edit fails here)
    expect = copy.deepcopy(before)
    expect.setdefault(cfg.root_key, {})
    if not isinstance(expect[cfg.root_key], dict):
        raise ConfigFormatError(f"{cfg.root_key!r} is not a table")
    expect[cfg.root_key][cfg.name] = cfg.entry
    if after != expect:
        raise ConfigFormatError(f"cannot merge safely ({cfg.root_key}.{cfg.name} is defined in a form memoryd "
                                "does not edit, e.g. an inline table): add memoryd's entry by hand")
    return out
