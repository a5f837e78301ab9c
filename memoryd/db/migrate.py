"""Ordered migrations, recorded in `schema_migrations`, each applied in one transaction
together with its record (sqlite-utils/datasette style).

Files in migrations/ are named NNNN_name.sql. Statements are split with
sqlite3.complete_statement, so triggers with inner semicolons work, and executed one by
one inside a single BEGIN IMMEDIATE ... COMMIT (executescript would commit on its own).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import MigrationError
from .connection import transaction
from .driver import sqlite3

__all__ = ["Migration", "available_migrations", "applied_versions", "migrate", "split_statements"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def statements(self) -> list[str]:
        return split_statements(self.path.read_text(encoding="utf-8"))


def split_statements(sql: str) -> list[str]:
    out: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        if not buf and line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise MigrationError(f"incomplete SQL statement at end of migration: {buf.strip()[:80]!r}")
    return out


def available_migrations(directory: Path) -> list[Migration]:
    if not directory.is_dir():
        raise MigrationError(f"migrations directory not found: {directory}")
    found: list[Migration] = []
    for path in sorted(directory.iterdir()):
        m = _NAME.match(path.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {directory}")
    return found


def applied_versions(conn: sqlite3.Connection) -> set[int]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    return {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}


def migrate(conn: sqlite3.Connection, directory: Path, *, upto: int | None = None) -> list[int]:
    """Apply every pending migration (up to `upto`, for tests of upgrades). Returns the
    versions applied now. A failing migration leaves the database at the previous version."""
    done = applied_versions(conn)
    known = available_migrations(directory)
    newer = sorted(done - {m.version for m in known})
    if newer and newer[-1] > max((m.version for m in known), default=0):
        raise MigrationError(
            f"this store was written by a newer memoryd: it has schema version {newer[-1]}, this memoryd knows "
            f"up to {max((m.version for m in known), default=0)}; upgrade memoryd (pip install -U memoryd) to "
            "use it. Nothing was changed")
    applied: list[int] = []
    for mig in known:
        if mig.version in done or (upto is not None and mig.version > upto):
            continue
        try:
            with transaction(conn):
                # `done` was read before this write lock: another process opening the same new
                # store at once (an MCP client starting the server while a hook runs) may have
                # applied it since. Checked under the lock, so exactly one process applies it.
                if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (mig.version,)).fetchone():
                    continue
                for stmt in mig.statements():
                    conn.execute(stmt)
                conn.execute(
                    "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                    (mig.version, mig.name, time.time()),
                )
        except sqlite3.Error as exc:
            raise MigrationError(f"migration {mig.version:04d}_{mig.name} failed: {exc}") from exc
        applied.append(mig.version)
    return applied
