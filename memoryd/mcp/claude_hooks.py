"""Claude Code hooks that run `memoryd hook ...`, merged into `.claude/settings.json`.

Claude Code runs each hook command in a shell with the event's JSON on stdin; memoryd's
answer (``hookSpecificOutput.additionalContext``) is added to the model's context. Pure:
text in, text out (``client_files.write_merged`` does the I/O).
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from ..jsontext import load_object
from .clients import ConfigFormatError

__all__ = ["HOOK_EVENTS", "hook_commands", "merge_hooks"]

HOOK_EVENTS = {"SessionStart": "session-start", "UserPromptSubmit": "prompt-submit"}
HOOK_TIMEOUT_S = 30


def hook_commands(command: str, env: dict[str, str]) -> dict[str, str]:
    """event -> shell command. Settings that are not defaults go in front as VAR=value, since
    hooks run in the user's environment, not in the MCP entry's."""
    prefix = [f"{k}={v}" for k, v in env.items()]
    return {event: " ".join([*(shlex.quote(p) for p in prefix), shlex.quote(command), "hook", sub])
            for event, sub in HOOK_EVENTS.items()}


def _ours(hook: Any) -> bool:
    cmd = hook.get("command", "") if isinstance(hook, dict) else ""
    return isinstance(cmd, str) and any(cmd.endswith(f" hook {sub}") for sub in HOOK_EVENTS.values()) and "memoryd" in cmd


def merge_hooks(existing: str | None, commands: dict[str, str]) -> str:
    """``existing`` settings with memoryd's hooks added (replacing earlier memoryd hooks);
    every other setting and hook is kept. Idempotent."""
    data = load_object(existing, ConfigFormatError)
    hooks = data.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise ConfigFormatError("'hooks' is not a JSON object")
    for event, command in commands.items():
        groups = hooks.setdefault(event, [])
        if not isinstance(groups, list):
            raise ConfigFormatError(f"hooks.{event} is not a list")
        kept = []
        for g in groups:
            if isinstance(g, dict) and isinstance(g.get("hooks"), list):
                rest = [h for h in g["hooks"] if not _ours(h)]
                if not rest and g["hooks"]:
                    continue  # a group that held only memoryd's hook
                g = {**g, "hooks": rest}
            kept.append(g)
        kept.append({"hooks": [{"type": "command", "command": command, "timeout": HOOK_TIMEOUT_S}]})
        hooks[event] = kept
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
