"""Project scope: which project a client works in, and the namespaces that follow from it.

When the client tells us its project, `remember` writes to that project's namespace and
`recall` reads it plus the shared namespaces, so memories of one repository do not leak into
another's context. Sources, first match wins:

1. ``MEMORYD_PROJECT``: a namespace to use as is, or ``none`` to switch project scope off;
2. ``CLAUDE_PROJECT_DIR`` (Claude Code sets it for hooks and the servers it launches);
3. the first ``file://`` MCP root the client lists;
4. the git root above the working directory.

A project directory becomes ``project:<name>-<6 hex of its absolute path>``: readable, and two
checkouts both called ``api`` stay apart. Pure functions: the environment and the working
directory are passed in.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["SHARED_NAMESPACES", "PROJECT_PREFIX", "ProjectScope", "project_namespace", "find_git_root", "resolve_project"]

SHARED_NAMESPACES = ("default", "shared")  # read from every project
PROJECT_PREFIX = "project:"  # a project's namespace: only agents working in that project write it
_NAMESPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-/]{0,127}$")


@dataclass(frozen=True)
class ProjectScope:
    namespace: str  # where remember writes by default
    origin: str  # MEMORYD_PROJECT | CLAUDE_PROJECT_DIR | mcp-root | git (for doctor/logs)
    root: str | None = None  # the project directory, when there is one

    @property
    def read_namespaces(self) -> tuple[str, ...]:
        """What recall searches by default: the project plus the shared namespaces."""
        return (self.namespace, *[n for n in SHARED_NAMESPACES if n != self.namespace])


def project_namespace(root: Path) -> str:
    root = Path(root).absolute()
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "-", root.name).strip("-.")[:48] or "root"
    if not name[0].isalnum():
        name = "p" + name
    digest = hashlib.sha256(str(root).encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"{PROJECT_PREFIX}{name}-{digest}"


def find_git_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding ``.git`` (a directory or, for
    worktrees and submodules, a file)."""
    try:
        here = Path(start).absolute()
    except OSError:
        return None
    for d in (here, *here.parents):
        if (d / ".git").exists():
            return d
    return None


def _root_from_uri(uri: str) -> Path | None:
    u = urlparse(uri)
    return Path(unquote(u.path)) if u.scheme == "file" and u.path else None


def resolve_project(env: Mapping[str, str], cwd: Path | None = None, roots: Sequence[str] = ()) -> ProjectScope | None:
    """The project scope for a client, or None (no project known, or switched off)."""
    explicit = (env.get("MEMORYD_PROJECT") or "").strip()
    if explicit:
        if explicit.lower() == "none":
            return None
        if not _NAMESPACE.match(explicit):
            raise ValueError(f"MEMORYD_PROJECT must be a namespace (letters, digits, _.:-/) or 'none', got {explicit!r}")
        return ProjectScope(explicit, "MEMORYD_PROJECT")
    claude = (env.get("CLAUDE_PROJECT_DIR") or "").strip()
    if claude:
        return ProjectScope(project_namespace(Path(claude)), "CLAUDE_PROJECT_DIR", str(Path(claude).absolute()))
    for uri in roots:
        root = _root_from_uri(uri)
        if root is not None:
            return ProjectScope(project_namespace(root), "mcp-root", str(root.absolute()))
    git = find_git_root(cwd) if cwd is not None else None
    if git is not None:
        return ProjectScope(project_namespace(git), "git", str(git))
    return None
