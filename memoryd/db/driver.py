"""The one place that chooses memoryd's SQLite: every module imports `sqlite3` from here.

memoryd prefers the SQLite bundled by the `pysqlite3-binary` wheel (3.51 at the time of
writing) over the interpreter's own (3.40.1 on Debian 12): from SQLite 3.42 FTS5 has the
`secure-delete` option, which removes a deleted row's terms from the index segments at
delete time. With it a single `forget` leaves no word of the memory on disk for ~2.7 ms;
without it every delete path must merge the whole index (FTS5 'optimize', ~16 ms at 10k
memories and growing with the store). See docs/erasure.md, "Every delete path".

`MEMORYD_SQLITE=stdlib` forces the interpreter's module (tests of the fallback, or a
platform without the wheel); `MEMORYD_SQLITE=pysqlite3` makes its absence an error.
Never open memoryd's database with *another* SQLite library in the same process (the
stdlib `sqlite3` next to pysqlite3): POSIX locks are per process, so two copies of SQLite in
one process do not see each other's locks, and closing one's file descriptor drops the
other's (https://www.sqlite.org/howtocorrupt.html, 2.2.1). Import `sqlite3` from here.
Other processes (the `sqlite3` shell, another memoryd) are safe with any version >= 3.42
(older ones cannot read an FTS5 index that used secure-delete: `invalid fts5 file format`).

Exceptions: code that catches SQLite errors uses `Error`, `OperationalError`,
`DatabaseError`, `IntegrityError`, `ProgrammingError` from here: tuples holding the class
of both modules, so a connection opened by either is caught.
"""

from __future__ import annotations

import os
import sqlite3 as _stdlib

from ..errors import StoreError

__all__ = ["sqlite3", "NAME", "VERSION", "FTS_SECURE_DELETE", "Error", "OperationalError", "DatabaseError",
           "IntegrityError", "ProgrammingError"]

_want = os.environ.get("MEMORYD_SQLITE", "").strip().lower()
if _want not in ("", "stdlib", "pysqlite3"):
    raise StoreError(f"MEMORYD_SQLITE must be 'stdlib' or 'pysqlite3', not {_want!r}")

_mods = [_stdlib]
if _want == "stdlib":
    sqlite3 = _stdlib
else:
    try:
        from pysqlite3 import dbapi2 as sqlite3  # type: ignore[no-redef]

        _mods.append(sqlite3)
    except ImportError as exc:
        if _want == "pysqlite3":
            raise StoreError("MEMORYD_SQLITE=pysqlite3 but the pysqlite3-binary wheel is not installed "
                             "(pip install pysqlite3-binary)") from exc
        sqlite3 = _stdlib

NAME = "pysqlite3" if sqlite3 is not _stdlib else "stdlib"
VERSION = sqlite3.sqlite_version
FTS_SECURE_DELETE = sqlite3.sqlite_version_info >= (3, 42, 0)


def _both(name: str) -> tuple[type[BaseException], ...]:
    return tuple(dict.fromkeys(getattr(m, name) for m in _mods))


Error = _both("Error")
OperationalError = _both("OperationalError")
DatabaseError = _both("DatabaseError")
IntegrityError = _both("IntegrityError")
ProgrammingError = _both("ProgrammingError")
