"""Stores on read-only media: a backup disk, a snapshot or a volume mounted read-only.

A WAL store needs its -shm file (and a lock on it) even to be read, so SQLite cannot open one
where no file can be created. On a file system mounted read-only nothing can change the file
under us, which is exactly when SQLite's ``immutable=1`` is safe: the store is opened that
way, read-only, and every write is refused as StoreReadOnly. A directory that is merely not
writable by this user (chmod) does not qualify: another user could still write the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from ..errors import StoreReadOnly

__all__ = ["on_read_only_media", "immutable_uri"]


def on_read_only_media(p: Path) -> bool:
    """Whether `p` exists on a file system mounted read-only."""
    try:
        return p.is_file() and bool(os.statvfs(p.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def immutable_uri(p: Path) -> str:
    """The URI that opens `p` read-only and immutable; StoreReadOnly when its write-ahead log
    holds changes that are not in the database file yet (immutable would not see them, and
    nothing can be written there to apply them)."""
    wal = p.with_name(p.name + "-wal")
    try:
        pending = wal.stat().st_size > 0
    except OSError:
        pending = False
    if pending:
        raise StoreReadOnly(f"cannot open database {p}: it is on a read-only file system and its {wal.name} holds "
                            "changes not yet in the database file: copy the store with its -wal file to a "
                            "writable place, or open it where it was written")
    return f"file:{quote(str(p.resolve()))}?mode=ro&immutable=1"
