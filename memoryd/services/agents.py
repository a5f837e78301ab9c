"""Agents, their bearer tokens and private namespaces.

A token is ``md1.<agent>.<secret>``: 256 random bits, shown once by ``memoryd agents add``.
The database keeps only ``sha256(salt || token)`` with a per-token random salt; a check
recomputes it and compares in constant time. (A key-stretching hash such as scrypt buys
nothing for a 256-bit random secret and would cost ~50 ms on every HTTP request.) The
agent name inside the token only says which row to check: the identity is the row whose
hash matches, never something a client asserts.

A namespace listed in ``namespace_owners`` is private: only its owner reads or writes it
through MCP. Each agent has scopes (services/authority.py); ``caller`` turns a verified
agent into the ``Caller`` every use case takes, ``unverified`` does the same for a stdio
server started without a token (no private namespace readable, registered names refused).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..db.driver import sqlite3
from ..db import transaction
from ..errors import AuthError, NotFoundError, ValidationError
from ..store import agents as astore
from .authority import DEFAULT_MAX_DESTRUCTIVE, DEFAULT_SCOPES, OPERATOR_AGENT, Caller, parse_scopes

__all__ = [
    "Agent",
    "IssuedToken",
    "Access",
    "Caller",
    "AgentService",
    "new_token",
    "hash_token",
    "agent_of_token",
    "validate_agent_name",
]

TOKEN_PREFIX = "md1"
TOKEN_ENV = "MEMORYD_TOKEN"  # stdio: the agent's token, from the environment of `memoryd serve`
_AGENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-/]{0,127}$")  # same rule as memoryd/validation.py
_DUMMY_SALT = "00" * 16


def validate_agent_name(name: str) -> str:
    """A name for a new agent identity (token, or an unverified stdio server)."""
    if not isinstance(name, str) or not _AGENT.match(name):
        raise ValidationError(
            f"invalid agent name {name!r}: letters, digits, '_' and '-' (max 64), starting alphanumeric"
        )
    if name.lower() == OPERATOR_AGENT:
        raise ValidationError(f"the agent name {name!r} is reserved: it names the operator in the "
                              "provenance of what the CLI writes; choose another")
    return name


def new_token(agent_id: str) -> str:
    return f"{TOKEN_PREFIX}.{agent_id}.{secrets.token_urlsafe(32)}"


def hash_token(token: str, salt_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt_hex) + token.encode("utf-8")).hexdigest()


def agent_of_token(token: str) -> str | None:
    """The agent row a token claims to belong to (unverified), or None if malformed."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not _AGENT.match(parts[1]) or len(parts[2]) < 32:
        return None
    return parts[1]


@dataclass(frozen=True)
class Agent:
    id: str
    created_at: float
    disabled: bool
    private_namespaces: tuple[str, ...] = ()
    scopes: tuple[str, ...] = DEFAULT_SCOPES

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "disabled": self.disabled,
            "private_namespaces": list(self.private_namespaces),
            "scopes": list(self.scopes),
        }


@dataclass(frozen=True)
class IssuedToken:
    agent: Agent
    token: str  # shown once; only its salted hash is stored


Access = Caller  # the name this module used before callers carried scopes


class AgentService:
    def __init__(self, conn: sqlite3.Connection, *, lock: threading.RLock, clock: Callable[[], float] = time.time,
                 max_destructive: int = DEFAULT_MAX_DESTRUCTIVE):
        self.conn = conn
        self.lock = lock
        self.clock = clock
        self.max_destructive = max_destructive  # memories one MCP call may delete (Settings)

    # ---- administration (CLI) --------------------------------------------------------------
    def add(self, name: str, private_namespaces: Iterable[str] = (),
            scopes: Iterable[str] | None = None) -> IssuedToken:
        validate_agent_name(name)
        spaces = [self._check_ns(ns) for ns in private_namespaces]
        granted = parse_scopes(DEFAULT_SCOPES if scopes is None else scopes)
        token, salt = new_token(name), secrets.token_hex(16)
        with self.lock, transaction(self.conn):
            if astore.get_agent(self.conn, name) is not None:
                raise ValidationError(f"agent {name!r} already exists (use `memoryd agents rotate {name}` for a new token)")
            twin = self._registered_as(name)
            if twin is not None:
                raise ValidationError(f"agent {name!r} differs from the registered agent {twin!r} only in case: "
                                      "a reader could not tell them apart; choose another name")
            astore.insert_agent(self.conn, name, hash_token(token, salt), salt, self.clock(), ",".join(granted))
            for ns in spaces:
                self._claim(ns, name)
        return IssuedToken(self.get(name), token)

    def rotate(self, name: str) -> IssuedToken:
        """A new token for an existing agent; the old one stops working. Re-enables it."""
        token, salt = new_token(name), secrets.token_hex(16)
        with self.lock, transaction(self.conn):
            if not astore.set_token(self.conn, name, hash_token(token, salt), salt):
                raise NotFoundError(f"no agent named {name!r}")
        return IssuedToken(self.get(name), token)

    def revoke(self, name: str) -> Agent:
        """Disable an agent: its token is refused from the next request on. Its private
        namespaces stay private (nobody else gains access to them)."""
        with self.lock, transaction(self.conn):
            if not astore.set_disabled(self.conn, name, True):
                raise NotFoundError(f"no agent named {name!r}")
        return self.get(name)

    def set_scopes(self, name: str, scopes: Iterable[str]) -> Agent:
        """Replace an agent's scopes (from its next call on)."""
        granted = parse_scopes(scopes)
        with self.lock, transaction(self.conn):
            if not astore.set_scopes(self.conn, name, ",".join(granted)):
                raise NotFoundError(f"no agent named {name!r}")
        return self.get(name)

    def make_private(self, name: str, namespace: str) -> Agent:
        ns = self._check_ns(namespace)
        with self.lock, transaction(self.conn):
            if astore.get_agent(self.conn, name) is None:
                raise NotFoundError(f"no agent named {name!r} (create it with `memoryd agents add {name}`)")
            self._claim(ns, name)
        return self.get(name)

    def _claim(self, namespace: str, name: str) -> None:
        owner = astore.namespace_owner(self.conn, namespace)
        if owner is not None and owner != name:
            raise ValidationError(f"namespace {namespace!r} is already private to agent {owner!r}")
        astore.set_namespace_owner(self.conn, namespace, name)

    @staticmethod
    def _check_ns(namespace: str) -> str:
        if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
            raise ValidationError(f"invalid namespace {namespace!r}")
        return namespace

    # ---- reads -------------------------------------------------------------------------------
    def get(self, name: str) -> Agent:
        with self.lock:
            row = astore.get_agent(self.conn, name)
            owners = astore.namespace_owners(self.conn)
        if row is None:
            raise NotFoundError(f"no agent named {name!r}")
        return self._agent(row, owners)

    def list(self) -> list[Agent]:
        with self.lock:
            rows = astore.list_agents(self.conn)
            owners = astore.namespace_owners(self.conn)
        return [self._agent(r, owners) for r in rows]

    @staticmethod
    def _agent(row: astore.AgentRow, owners: dict[str, str]) -> Agent:
        mine = tuple(ns for ns, owner in owners.items() if owner == row.id)
        return Agent(row.id, row.created_at, row.disabled, mine, parse_scopes(row.scopes))

    def is_disabled(self, name: str) -> bool:
        with self.lock:
            row = astore.get_agent(self.conn, name)
        return row is not None and row.disabled

    # ---- authentication and authorisation ---------------------------------------------------
    def verify(self, token: str) -> str | None:
        """The agent id a token authenticates, or None (unknown, wrong, revoked, malformed)."""
        name = agent_of_token(token)
        row = None
        if name is not None:
            with self.lock:
                row = astore.get_agent(self.conn, name)
        usable = row is not None and not row.disabled and row.token_hash and row.token_salt
        salt = row.token_salt if usable else _DUMMY_SALT
        expected = row.token_hash if usable else "0" * 64
        # hash and compare even when there is no usable row, so timing says nothing
        ok = hmac.compare_digest(hash_token(token if isinstance(token, str) else "", salt), expected)
        return row.id if (ok and usable) else None

    def caller(self, agent_id: str) -> Caller:
        """The principal of a verified agent (its token was checked): its scopes, and every
        other agent's private namespace denied. Read fresh on each call, so that revoking or
        changing scopes takes effect from the next call."""
        with self.lock:
            row = astore.get_agent(self.conn, agent_id)
            owners = astore.namespace_owners(self.conn)
        if row is None or row.disabled:
            raise AuthError(f"agent {agent_id!r} is revoked or unknown")
        return Caller(agent_id, frozenset(parse_scopes(row.scopes)),
                      frozenset(ns for ns, owner in owners.items() if owner != agent_id),
                      max_destructive=self.max_destructive)

    def unverified(self, name: str) -> Caller:
        """A stdio agent started without a token: a name, not a proof. Default scopes, no
        private namespace readable, and never the name of a registered agent (whose token
        proves who it is)."""
        validate_agent_name(name)
        with self.lock:
            registered = self._registered_as(name)  # 'Alice' is alice to whoever reads a recall hit
            owners = astore.namespace_owners(self.conn)
        if registered is not None:
            shown = repr(name) if registered == name else f"{name!r} (as {registered!r})"
            raise AuthError(f"agent {shown} is registered: start the server with its token in {TOKEN_ENV} "
                            "(memoryd mcp-config writes it), or use another name")
        return Caller(name, frozenset(DEFAULT_SCOPES), frozenset(owners), verified=False,
                      max_destructive=self.max_destructive)

    def _registered_as(self, name: str) -> str | None:
        """The registered agent (revoked ones included) whose name is `name` up to case."""
        if astore.get_agent(self.conn, name) is not None:
            return name
        folded = name.casefold()
        return next((r.id for r in astore.list_agents(self.conn) if r.id.casefold() == folded), None)

    def access(self, agent_id: str) -> Caller:
        """The caller for `agent_id`: a registered agent as `caller`, any other name as
        `unverified` (kept for code written before scopes)."""
        with self.lock:
            known = astore.get_agent(self.conn, agent_id) is not None
        return self.caller(agent_id) if known else self.unverified(agent_id)
