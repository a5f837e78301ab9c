"""Agents (bearer-token hashes) and the owners of private namespaces."""

from __future__ import annotations

from dataclasses import dataclass

from ..db.driver import sqlite3

__all__ = [
    "AgentRow",
    "insert_agent",
    "get_agent",
    "list_agents",
    "set_token",
    "set_disabled",
    "set_scopes",
    "set_namespace_owner",
    "namespace_owner",
    "namespace_owners",
]


@dataclass(frozen=True)
class AgentRow:
    id: str
    created_at: float
    token_hash: str | None
    token_salt: str | None
    disabled: bool
    scopes: str = "read,write,forget"  # comma-separated (migration 0008)


_COLS = "id, created_at, token_hash, token_salt, disabled, scopes"


def _row(r: sqlite3.Row) -> AgentRow:
    return AgentRow(r["id"], r["created_at"], r["token_hash"], r["token_salt"], bool(r["disabled"]), r["scopes"])


def insert_agent(
    conn: sqlite3.Connection, agent_id: str, token_hash: str, token_salt: str, now: float,
    scopes: str = "read,write,forget",
) -> None:
    conn.execute(
        "INSERT INTO agents(id, created_at, token_hash, token_salt, disabled, scopes) VALUES (?, ?, ?, ?, 0, ?)",
        (agent_id, now, token_hash, token_salt, scopes),
    )


def set_scopes(conn: sqlite3.Connection, agent_id: str, scopes: str) -> int:
    return conn.execute("UPDATE agents SET scopes = ? WHERE id = ?", (scopes, agent_id)).rowcount


def get_agent(conn: sqlite3.Connection, agent_id: str) -> AgentRow | None:
    r = conn.execute(
        f"SELECT {_COLS} FROM agents WHERE id = ?", (agent_id,)
    ).fetchone()
    return _row(r) if r else None


def list_agents(conn: sqlite3.Connection) -> list[AgentRow]:
    rows = conn.execute(
        f"SELECT {_COLS} FROM agents ORDER BY id"
    )
    return [_row(r) for r in rows]


def set_token(conn: sqlite3.Connection, agent_id: str, token_hash: str, token_salt: str) -> int:
    """Replace an agent's token (and re-enable it). Returns rows changed."""
    return conn.execute(
        "UPDATE agents SET token_hash = ?, token_salt = ?, disabled = 0 WHERE id = ?",
        (token_hash, token_salt, agent_id),
    ).rowcount


def set_disabled(conn: sqlite3.Connection, agent_id: str, disabled: bool = True) -> int:
    return conn.execute(
        "UPDATE agents SET disabled = ? WHERE id = ?", (1 if disabled else 0, agent_id)
    ).rowcount


def set_namespace_owner(conn: sqlite3.Connection, namespace: str, agent_id: str) -> None:
    conn.execute(
        "INSERT INTO namespace_owners(namespace, agent_id) VALUES (?, ?)"
        " ON CONFLICT(namespace) DO UPDATE SET agent_id = excluded.agent_id",
        (namespace, agent_id),
    )


def namespace_owner(conn: sqlite3.Connection, namespace: str) -> str | None:
    r = conn.execute("SELECT agent_id FROM namespace_owners WHERE namespace = ?", (namespace,)).fetchone()
    return r[0] if r else None


def namespace_owners(conn: sqlite3.Connection) -> dict[str, str]:
    """Every private namespace -> its owner agent."""
    return {r[0]: r[1] for r in conn.execute("SELECT namespace, agent_id FROM namespace_owners ORDER BY namespace")}
