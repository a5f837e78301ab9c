"""SQLite failures of the file, not of the SQL, as the error tree's classes.

A lock still held when the busy timeout runs out (SQLITE_BUSY, SQLITE_LOCKED) is StoreBusy;
SQLITE_READONLY/PERM is StoreReadOnly, SQLITE_FULL StoreFull, SQLITE_CORRUPT/NOTADB
StoreCorrupt, SQLITE_IOERR/CANTOPEN StoreError, each naming the file and what to do
(connection.py raises them from execute, fetches and transactions).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import StoreBusy, StoreCorrupt, StoreError, StoreFull, StoreReadOnly
from . import driver, media

__all__ = ["is_busy", "busy_error", "store_error"]

_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (an extended code keeps them in its low byte)
_BUSY_TEXT = ("database is locked", "database table is locked", "database is busy")


def is_busy(exc: BaseException) -> bool:
    """Whether a SQLite error means "another connection holds the lock"."""
    if isinstance(exc, StoreBusy):
        return True
    if not isinstance(exc, driver.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _BUSY_CODES
    msg = str(exc).lower()  # a driver without error codes
    return any(s in msg for s in _BUSY_TEXT)


def busy_error(exc: BaseException, path: str | Path = "") -> StoreBusy:
    where = f" {path}" if path and str(path) != "the database" else ""
    return StoreBusy(f"the database{where} is locked by another connection or process ({exc}); try again")


_READONLY, _PERM, _FULL, _CORRUPT, _NOTADB, _IOERR, _CANTOPEN = 8, 3, 13, 11, 26, 10, 14


def store_error(exc: BaseException, path: str | Path = "the database") -> StoreError | None:
    """The error of the tree for a driver error about the file (not about the SQL), or None."""
    if is_busy(exc):
        return busy_error(exc, path)
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None or not isinstance(exc, driver.DatabaseError):
        return None
    code &= 0xFF  # the primary code of an extended one
    if code in (_READONLY, _PERM):
        if str(path) != "the database" and media.on_read_only_media(Path(path)):
            return StoreReadOnly(f"cannot write {path}: it is on a file system mounted read-only; memoryd reads it "
                                 "as it is but cannot change it: copy it to a writable place to write")
        return StoreReadOnly(f"cannot write {path}: it is read-only ({exc}); check the permissions of the file and "
                             "of its directory (SQLite writes the -wal and -shm files next to it); the write was rolled back")
    if code == _FULL:
        return StoreFull(f"cannot write {path}: the disk is full ({exc}); the write was rolled back: free some "
                         "space and try again")
    if code in (_CORRUPT, _NOTADB):
        return StoreCorrupt(f"the database {path} is damaged ({exc}): run `memoryd --db {path} doctor`, then "
                            f"restore a backup (or salvage it with `sqlite3 {path} .recover`)")
    if code == _IOERR:
        return StoreError(f"disk I/O error on {path} ({exc}): check the disk and its file system")
    if code == _CANTOPEN:
        return StoreError(f"cannot open a file of the database {path} ({exc}): check that its directory exists "
                          "and is writable")
    return None


def _raise_mapped(exc: BaseException, path: str) -> None:
    mapped = store_error(exc, path)
    if mapped is not None:
        raise mapped from exc


