"""Who is calling a use case, and what it may do (docs/security.md).

Every service use case that reads or changes memories takes a ``Caller``:

- ``OPERATOR``: the person at the CLI on the machine that owns the store. Everything.
- an agent (MCP): identified by its token (HTTP bearer, or ``MEMORYD_TOKEN`` for stdio),
  with scopes and the private namespaces of other agents it may not touch (``denied``).
  A stdio server without a token runs as an *unverified* agent: default scopes and every
  private namespace denied.

An agent caller also carries its client's ``project`` namespace (project.py), when the
server knows one: it may write into that ``project:`` namespace and into every namespace
that is not a project's, never into another project's (whose session-start hook would hand
what it wrote to that project's sessions).

Scopes: ``read`` (recall, get, list, graph, stats), ``write`` (remember, feedback),
``forget`` (delete memories the agent itself wrote), ``erase`` (GDPR erasure of any memory
the agent can read, and forget of those too). Destructive calls by an agent above
``max_destructive`` memories are refused: the operator runs them from the CLI.

The checks live here and in the services that call them; adapters only resolve the
caller and pass it on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from ..errors import AuthError, NotFoundError, ValidationError
from ..models import Memory, SearchFilters
from ..project import PROJECT_PREFIX

__all__ = [
    "Caller",
    "OPERATOR",
    "SCOPES",
    "DEFAULT_SCOPES",
    "DEFAULT_MAX_DESTRUCTIVE",
    "parse_scopes",
    "OPERATOR_AGENT",
]

SCOPES = ("read", "write", "forget", "erase")
DEFAULT_SCOPES = ("read", "write", "forget")
DEFAULT_MAX_DESTRUCTIVE = 50  # memories one MCP call may delete; more: the operator, from the CLI
OPERATOR_AGENT = "cli"  # provenance.agent_id of what the operator writes: reserved, no agent owns it


def parse_scopes(scopes: Iterable[str] | str) -> tuple[str, ...]:
    """Scopes in canonical order; accepts 'read,write' or ['read', 'write']."""
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    out = {s.strip().lower() for s in items if isinstance(s, str) and s.strip()}
    bad = sorted(out - set(SCOPES))
    if bad:
        raise ValidationError(f"unknown scope(s) {', '.join(bad)}; choose from {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in out)


@dataclass(frozen=True)
class Caller:
    """The principal of one call: the operator, or an agent with scopes and exclusions."""

    agent_id: str
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_SCOPES))
    denied: frozenset[str] = frozenset()  # namespaces private to other agents
    operator: bool = False
    verified: bool = True  # False: a stdio agent without a token (a name, not a proof)
    max_destructive: int | None = DEFAULT_MAX_DESTRUCTIVE  # None: no bound (the operator)
    project: str | None = None  # the client's project namespace (MCP); None: the server knows none

    # ---- scopes ------------------------------------------------------------------------------
    def has(self, scope: str) -> bool:
        return self.operator or scope in self.scopes

    def require(self, scope: str, what: str) -> None:
        if not self.has(scope):
            raise AuthError(f"agent {self.agent_id!r} lacks the {scope!r} scope needed to {what} "
                            f"(the operator grants it: memoryd agents scopes {self.agent_id} ...)")

    # ---- namespaces ---------------------------------------------------------------------------
    def can_use(self, namespace: str) -> bool:
        return self.operator or namespace not in self.denied

    def check_namespace(self, namespace: str) -> None:
        if not self.can_use(namespace):
            raise AuthError(f"namespace {namespace!r} is private to another agent")

    def check_write(self, namespace: str) -> None:
        """May this caller store memories in `namespace`? Not in another agent's private one,
        and an agent not in a ``project:`` namespace other than its own project's: the
        Claude Code hooks inject a project's namespace into every session of that project,
        so a write there from elsewhere would plant text in another repository's sessions."""
        self.check_namespace(namespace)
        if self.operator or not namespace.startswith(PROJECT_PREFIX) or namespace == self.project:
            return
        mine = (f"its own project's namespace ({self.project})" if self.project
                else "no project namespace (this server knows no project)")
        raise AuthError(f"namespace {namespace!r} belongs to another project: an agent may write {mine} and "
                        "namespaces that are not a project's (default, shared, a topic); the user can store it "
                        f"from the CLI: memoryd add --namespace {namespace} ...")

    def check_memory(self, memory: Memory) -> Memory:
        """A memory in a denied namespace looks exactly like an unknown id."""
        if not self.can_use(memory.namespace):
            raise NotFoundError(f"no memory with id {memory.id!r}")
        return memory

    def filters(self, base: SearchFilters = SearchFilters()) -> SearchFilters:
        """`base` narrowed to what the caller may read (asking for a denied namespace fails)."""
        for ns in base.namespaces or ():
            self.check_namespace(ns)
        if self.operator or not self.denied:
            return base
        return replace(base, exclude_namespaces=tuple(sorted(set(base.exclude_namespaces) | self.denied)))

    def read_filters(self, base: SearchFilters = SearchFilters()) -> SearchFilters:
        """`filters` for a read use case (graph views): needs the 'read' scope."""
        self.require("read", "read memories")
        return self.filters(base)

    # ---- ownership and destruction -------------------------------------------------------------
    def owns(self, author: str) -> bool:
        """Whether this agent wrote what `author` (a provenance agent_id) wrote. The operator's
        name is never an agent's (services/agents.py refuses it), and an agent caller that
        carries it anyway (a store from before) owns nothing the operator wrote."""
        return not self.operator and author == self.agent_id and author != OPERATOR_AGENT

    def may_delete(self, memory: Memory) -> bool:
        """Forget/erase one readable memory: its own with 'forget', any readable with 'erase'."""
        if self.operator:
            return True
        if not self.can_use(memory.namespace):
            return False
        return self.has("erase") or (self.has("forget") and self.owns(memory.provenance.agent_id))

    def check_size(self, n: int, what: str) -> None:
        if self.operator or self.max_destructive is None or n <= self.max_destructive:
            return
        raise AuthError(
            f"refusing to {what} {n} memories in one MCP call (the limit set by the operator is "
            f"{self.max_destructive}): ask the user to run the erasure from the CLI "
            "(memoryd erase ..., dry run first)")


OPERATOR = Caller(agent_id=OPERATOR_AGENT, scopes=frozenset(SCOPES), operator=True, max_destructive=None)
