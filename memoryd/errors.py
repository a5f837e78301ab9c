"""One exception tree for memoryd.

    MemorydError
    ├── ConfigError            bad settings, missing model path
    ├── ValidationError        bad user/agent input (empty, oversized, invalid UTF-8, bad filter)
    ├── NotFoundError          unknown memory id, agent, receipt, model
    ├── AuthError              missing/invalid token, namespace not readable by this agent
    ├── StoreError             database problems (migrations, integrity)
    │   ├── MigrationError
    │   ├── StoreBusy          another connection held the lock past the busy timeout (retry)
    │   ├── StoreReadOnly      the file, its directory or the file system refuses writes
    │   ├── StoreFull          the disk (or SQLite's page limit) is full
    │   ├── StoreCorrupt       a damaged page: the file is not what SQLite wrote
    │   └── ForeignDatabase    another program's SQLite file, left untouched
    ├── ErasureError           an erasure could not be planned, applied or verified
    ├── TrustError             evidence log broken (tamper detected)
    └── EditingError           model adaptation / STAMP edit failures

Adapters (CLI, MCP) turn these into clean messages: a non-zero exit, or a ToolError.
"""

from __future__ import annotations

__all__ = [
    "MemorydError",
    "ConfigError",
    "ValidationError",
    "NotFoundError",
    "AuthError",
    "StoreError",
    "MigrationError",
    "StoreBusy",
    "StoreReadOnly",
    "StoreFull",
    "StoreCorrupt",
    "ForeignDatabase",
    "ErasureError",
    "TrustError",
    "EditingError",
]


class MemorydError(Exception):
    """Base of every error memoryd raises on purpose."""

    exit_code = 1


class ConfigError(MemorydError):
    """Settings that cannot work (a missing model path, a bad environment value): EX_CONFIG."""

    exit_code = 78


class ValidationError(MemorydError):
    """Input refused before anything was written; the message says which field and why."""

    exit_code = 2


class NotFoundError(MemorydError):
    """No such memory, agent, receipt or model version, or one the caller may not see
    (the two read the same, so a probe learns nothing)."""

    exit_code = 4


class AuthError(MemorydError):
    exit_code = 5  # a token refused, or a namespace another agent keeps private


class StoreError(MemorydError):
    exit_code = 3  # the database itself: opening, migrating, integrity, contention


class MigrationError(StoreError):
    """A migration failed; its transaction was rolled back and the schema is as before."""


class StoreBusy(StoreError):
    """SQLITE_BUSY / SQLITE_LOCKED: another connection or process held the database lock
    for the whole busy timeout. The unit of work was rolled back; trying again is safe.
    Raised by memoryd.db.connection, so no layer above db/ reads SQLite messages."""


class StoreReadOnly(StoreError):
    """SQLITE_READONLY (or SQLITE_PERM/CANTOPEN on a write): the database file, its directory
    (where SQLite writes the -wal and -shm files) or the file system refuses writes. The
    unit of work was rolled back; reads still work."""


class StoreFull(StoreError):
    """SQLITE_FULL: no room left for the database or its WAL. The unit of work was rolled
    back; free space and try again."""


class StoreCorrupt(StoreError):
    """SQLITE_CORRUPT / SQLITE_NOTADB: a page is not what SQLite wrote (a damaged disk, a
    copied-while-written file). `memoryd doctor` says what; restore a backup."""


class ForeignDatabase(StoreError):
    """The path holds another program's SQLite database (tables, but no schema_migrations):
    refused before memoryd changes anything in it (its journal mode, its tables)."""


class ErasureError(MemorydError):
    pass


class TrustError(MemorydError):
    pass


class EditingError(MemorydError):
    pass
