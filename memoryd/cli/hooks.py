"""context (memories for a prompt, within a token budget) and the Claude Code hooks that
inject them automatically: `memoryd hook session-start` and `memoryd hook prompt-submit`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer

from ..errors import MemorydError, ValidationError
from ..jsontext import load_object
from . import app
from ._common import JsonOpt, emit, err_console, get_app, handles_errors
from .serve import project_scope

hook_app = typer.Typer(help="Claude Code hooks: inject relevant memories as context (no LLM).", no_args_is_help=True)
app.add_typer(hook_app, name="hook")

ProjectOpt = typer.Option("auto", "--project", help="Project whose namespace (plus the shared ones) is searched: "
                          "auto ($MEMORYD_PROJECT, $CLAUDE_PROJECT_DIR, else the git root of the working "
                          "directory), none (every namespace), or a namespace.")


def _where(scope) -> str:
    return f"project {scope.namespace} and shared namespaces" if scope else "all namespaces"


@app.command()
@handles_errors
def context(
    ctx: typer.Context,
    prompt: str = typer.Argument(None, help="What the agent is about to do; omit for the project's most relevant recent memories."),
    budget: int = typer.Option(800, "--budget", help="Token budget (estimated at 4 characters per token)."),
    limit: int = typer.Option(20, "--limit", "-k", help="Most memories considered."),
    project: str = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Print the memories most relevant to a prompt, packed into a token budget (the text the
    Claude Code hooks inject)."""
    from ..services.context import build_context

    scope = project_scope(project)
    res = build_context(get_app(ctx, read_only=True), prompt=prompt, namespaces=scope.read_namespaces if scope else None,
                        budget_tokens=budget, limit=limit, where=_where(scope))
    emit({**res.to_dict(), "project": scope.namespace if scope else None}, as_json,
         lambda: sys.stdout.write(res.text or "") if res.text else err_console.print("no relevant memories", markup=False))


def _read_hook_input() -> dict:
    raw = sys.stdin.read() if sys.stdin is not None and not sys.stdin.isatty() else ""
    return load_object(raw, ValidationError, what="the hook input")


def _run_hook(ctx: typer.Context, event: str, budget: int, limit: int, project: str, as_json: bool) -> None:
    """Claude Code's contract: read the event's JSON on stdin, print
    {"hookSpecificOutput": {"hookEventName", "additionalContext"}} and exit 0. A hook never
    blocks the session: on any error it prints nothing on stdout and explains on stderr."""
    from ..services.context import build_context

    try:
        data = _read_hook_input()
        prompt = None
        if event == "UserPromptSubmit":
            prompt = data.get("prompt")
            if not isinstance(prompt, str) or len(prompt.strip()) < 3:
                return
        env = dict(os.environ)
        cwd = data.get("cwd")
        if isinstance(cwd, str) and cwd and project == "auto":
            from ..project import resolve_project

            scope = resolve_project(env, Path(cwd))
        else:
            scope = project_scope(project, env)
        res = build_context(get_app(ctx, read_only=True), prompt=prompt, namespaces=scope.read_namespaces if scope else None,
                            budget_tokens=budget, limit=limit, where=_where(scope))
    except (MemorydError, ValueError, OSError) as exc:
        err_console.print(f"memoryd hook: {exc}", markup=False)
        return
    if not res.text:
        return
    out = {"hookSpecificOutput": {"hookEventName": event, "additionalContext": res.text}}
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    sys.stdout.flush()


_BUDGET_HELP = "Token budget for the injected memories (estimated at 4 characters per token)."


_HOOK_JSON = typer.Option(True, "--json", help="Output is always Claude Code's hook JSON (the flag is accepted for symmetry).")


def _hook_command(name: str, event: str, default_budget: int, default_limit: int, doc: str) -> None:
    """Register `memoryd hook NAME`: the hook for Claude Code's EVENT (see _run_hook)."""

    def command(
        ctx: typer.Context,
        budget: int = typer.Option(default_budget, "--budget", help=_BUDGET_HELP),
        limit: int = typer.Option(default_limit, "--limit", "-k", help="Most memories considered."),
        project: str = ProjectOpt,
        as_json: bool = _HOOK_JSON,
    ) -> None:
        _run_hook(ctx, event, budget, limit, project, as_json)

    command.__doc__ = doc
    command.__name__ = "hook_" + name.replace("-", "_")
    hook_app.command(name)(command)


_hook_command("session-start", "SessionStart", 1200, 15,
              "SessionStart hook: the project's most relevant recent memories as additionalContext.")
_hook_command("prompt-submit", "UserPromptSubmit", 800, 10,
              "UserPromptSubmit hook: the memories most relevant to the prompt as additionalContext.")
