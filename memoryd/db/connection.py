"""SQLite connections with memoryd's pragmas, and nested transactions.

Every connection gets, before anything is written:
  journal_mode=WAL      readers never block the writer
  foreign_keys=ON       derived rows (vectors, tags, graph) cascade with their memory
  secure_delete=ON      freed pages are zeroed, so deleted text is not left in free pages
  busy_timeout          concurrent writers wait instead of failing

A lock still held when the busy timeout runs out (SQLITE_BUSY, SQLITE_LOCKED) leaves here as
:class:`memoryd.errors.StoreBusy`, raised by the connection's execute methods and by
:func:`transaction` (which rolls back first): callers retry on that class, never on a message.
The other failures of the file rather than of the SQL leave the same way, from execute and
from a cursor's fetches: SQLITE_READONLY/PERM as StoreReadOnly, SQLITE_FULL as StoreFull,
SQLITE_CORRUPT/NOTADB as StoreCorrupt, SQLITE_IOERR/CANTOPEN as StoreError, each naming the
file and what to do. SQL errors (no such table, constraints) stay the driver's.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ForeignDatabase, StoreBusy, StoreError, StoreReadOnly
from . import driver, media
from .faults import _raise_mapped, busy_error, is_busy, store_error  # noqa: F401 - re-exported
from .driver import sqlite3

__all__ = ["connect", "store_exists", "transaction", "is_busy", "busy_error", "store_error", "PRAGMAS", "pragma", "data_version", "quick_check", "writable", "shrink_memory", "optimize", "checkpoint_truncate", "read_snapshot"]

PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "secure_delete": 1,
    "synchronous": "normal",
}

class _Cursor(sqlite3.Cursor):
    """The driver's cursor: a fault met while stepping through rows leaves as the tree's error
    (try/except rather than a context manager: __next__ runs once per row)."""

    def _path(self) -> str:
        return getattr(self.connection, "memoryd_path", "the database")

    def execute(self, sql, parameters=(), /):  # type: ignore[override]
        try:
            return super().execute(sql, parameters)
        except driver.DatabaseError as exc:
            _raise_mapped(exc, self._path())
            raise

    def executemany(self, sql, parameters, /):  # type: ignore[override]
        try:
            return super().executemany(sql, parameters)
        except driver.DatabaseError as exc:
            _raise_mapped(exc, self._path())
            raise

    def fetchone(self):
        try:
            return super().fetchone()
        except driver.DatabaseError as exc:
            _raise_mapped(exc, self._path())
            raise

    def fetchmany(self, size=None):
        try:
            return super().fetchmany(self.arraysize if size is None else size)
        except driver.DatabaseError as exc:
            _raise_mapped(exc, self._path())
            raise

    def fetchall(self):
        try:
            return super().fetchall()
        except driver.DatabaseError as exc:
            _raise_mapped(exc, self._path())
            raise

    def __next__(self):
        try:
            return super().__next__()
        except driver.DatabaseError as exc:
            _raise_mapped(exc, self._path())
            raise


class _Connection(sqlite3.Connection):
    """The driver's connection, with lock contention raised as StoreBusy and faults of the
    file as StoreReadOnly / StoreFull / StoreCorrupt / StoreError (store_error)."""

    memoryd_path = "the database"

    def cursor(self, factory=_Cursor):  # type: ignore[override]
        return super().cursor(factory)

    def execute(self, sql, parameters=(), /):  # type: ignore[override]
        try:
            return super().execute(sql, parameters)
        except driver.DatabaseError as exc:
            _raise_mapped(exc, self.memoryd_path)
            raise

    def executemany(self, sql, parameters, /):  # type: ignore[override]
        try:
            return super().executemany(sql, parameters)
        except driver.DatabaseError as exc:
            _raise_mapped(exc, self.memoryd_path)
            raise

    def executescript(self, script, /):  # type: ignore[override]
        try:
            return super().executescript(script)
        except driver.DatabaseError as exc:
            _raise_mapped(exc, self.memoryd_path)
            raise


def connect(path: str | Path, *, busy_timeout_ms: int = 10_000, store: bool = False) -> sqlite3.Connection:
    """Open (creating if needed) a database with memoryd's pragmas applied. ``store``: it must
    be empty or a memoryd store (a `schema_migrations` table): another program's SQLite file
    is refused before anything is changed in it (the WAL switch, memoryd's tables)."""
    p = Path(path)
    on_disk = str(p) != ":memory:"
    immutable = on_disk and media.on_read_only_media(p)  # read it as it is (media.py)
    if on_disk and not immutable:
        if _probe(p, Path.is_dir):
            raise StoreError(f"cannot open database {p}: it is a directory, not a database file (check --db)")
        if _probe(p.parent, Path.exists) and not p.parent.is_dir():
            raise StoreError(f"cannot open database {p}: {p.parent} is a file, not a directory (check --db and --home)")
        try:
            p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(f"cannot create directory for database {p}: {exc}") from exc
        _create_private(p)
    try:
        conn = sqlite3.connect(
            media.immutable_uri(p) if immutable else str(p), uri=immutable, isolation_level=None,
            check_same_thread=False, timeout=busy_timeout_ms / 1000, factory=_Connection,
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {p}: {exc}") from exc
    conn.row_factory = sqlite3.Row
    conn.memoryd_path = str(p)
    conn.memoryd_immutable = immutable
    try:  # the first statements read the file: not a database, or no room for its WAL
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")] \
            if store else []
        if tables and "schema_migrations" not in tables:
            conn.close()
            shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
            raise ForeignDatabase(f"{p} is not a memoryd store: it is another program's SQLite database (tables: "
                           f"{shown}); nothing was changed in it: check --db, --home, MEMORYD_DB and MEMORYD_HOME")
        for name, value in PRAGMAS.items():
            if name == "journal_mode":
                if not immutable:  # read-only media: the file stays as written
                    _switch_journal_mode(conn, value, busy_timeout_ms)
            else:
                conn.execute(f"PRAGMA {name}={value}")
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    except (StoreBusy, ForeignDatabase):
        conn.close()
        raise
    except (*driver.Error, StoreError) as exc:
        conn.close()
        cause = exc.__cause__ if isinstance(exc, StoreError) and exc.__cause__ is not None else exc
        kind = type(exc) if isinstance(exc, StoreError) else StoreError
        raise kind(f"cannot open database {p}: {cause} (is it a memoryd database, on a writable "
                   "file system? WAL needs to create files next to it)") from exc
    if on_disk and not immutable and mode.lower() != "wal":
        raise StoreError(f"could not enable WAL on {p} (journal_mode={mode})")
    if not driver.FTS_SECURE_DELETE and _fts_format(conn) >= 5:
        conn.close()
        raise StoreError(f"{p}: its full-text index uses FTS5 secure-delete, which this SQLite "
                         f"({driver.VERSION}) cannot read: install pysqlite3-binary (SQLite 3.42+) or unset MEMORYD_SQLITE")
    return conn


def _switch_journal_mode(conn: sqlite3.Connection, mode: str, busy_timeout_ms: int) -> None:
    """PRAGMA journal_mode=`mode`, retried until the busy timeout. SQLite answers BUSY at once,
    without its busy handler, when another connection holds a lock while a new file is switched
    to WAL: four processes opening one new store together (an MCP client starting `memoryd
    serve` while a hook runs) had one of them fail with StoreBusy under load."""
    deadline = time.monotonic() + max(0, busy_timeout_ms) / 1000
    pause = 0.005
    while True:
        try:
            conn.execute(f"PRAGMA journal_mode={mode}")
            return
        except StoreBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)


def store_exists(path: str | Path) -> bool:
    """Whether a database file is there; StoreError when a directory on the way cannot be
    entered (Path.exists raises PermissionError for that)."""
    return _probe(Path(path), Path.exists)


def _probe(p: Path, test) -> bool:
    try:
        return bool(test(p))
    except OSError as exc:
        raise StoreError(f"cannot open database {p}: {exc.strerror or exc} on {exc.filename or p}: check that this "
                         f"user can enter {p.parent} and read the file") from exc


def _create_private(p: Path) -> None:
    """Create a missing database file empty with mode 0600 before SQLite opens it: SQLite gives
    the -wal and -shm files it makes the database file's mode, so no user but the owner can read
    any of them. An existing file is left as it is (`memoryd doctor` reports a readable one)."""
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:  # exists (or cannot be made: SQLite's own open reports why)
        return
    os.close(fd)


def _fts_format(conn: sqlite3.Connection) -> int:
    """The FTS5 file format version of memories_fts (5 once secure-delete was used), 0 if none."""
    try:
        r = conn.execute("SELECT v FROM memories_fts_config WHERE k = 'version'").fetchone()
    except driver.OperationalError:
        return 0
    return int(r[0]) if r and str(r[0]).isdigit() else 0


READABLE_PRAGMAS = frozenset({"journal_mode", "foreign_keys", "secure_delete", "synchronous", "busy_timeout"})


def pragma(conn: sqlite3.Connection, name: str):
    """The current value of one of memoryd's pragmas (doctor, erasure checks)."""
    if name not in READABLE_PRAGMAS:
        raise ValueError(f"not a pragma memoryd reads: {name!r}")
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def data_version(conn: sqlite3.Connection) -> int:
    """Moves when another connection commits (PRAGMA data_version)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def quick_check(conn: sqlite3.Connection) -> str:
    return str(conn.execute("PRAGMA quick_check").fetchone()[0])


def writable(conn: sqlite3.Connection, *, wait_ms: int = 100) -> bool | None:
    """Whether this connection can write (creates a table in a transaction it rolls back, so
    nothing stays): False when the file, its directory or the file system is read-only; None when
    another process held the lock for `wait_ms` (unknown)."""
    saved = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
    try:
        conn.execute("BEGIN IMMEDIATE")  # succeeds on a read-only file: a real write is needed
        conn.execute("CREATE TABLE memoryd_write_probe (x)")
        conn.execute("ROLLBACK")
        return True
    except StoreReadOnly:
        return False
    except StoreBusy:
        return None
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute(f"PRAGMA busy_timeout={int(saved)}")


def shrink_memory(conn: sqlite3.Connection) -> None:
    """Drop this connection's cached pages (after an erasure they held the erased rows)."""
    conn.execute("PRAGMA shrink_memory")


def checkpoint_truncate(conn: sqlite3.Connection, *, attempts: int = 5, pause_s: float = 0.05,
                        wait_ms: int = 100) -> bool:
    """Copy the WAL back into the database and truncate it to 0 bytes: the WAL holds old
    page images, i.e. the text of rows deleted since the last checkpoint. False when readers
    (another connection inside a read transaction) kept it busy through every attempt."""
    # a checkpoint waits for readers through the busy handler: keep that short here, or a
    # reader holding a snapshot would stall the caller for attempts x busy_timeout
    saved = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
    try:
        for attempt in range(attempts):
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return True
            time.sleep(pause_s * (attempt + 1))
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(saved)}")


@contextmanager
def read_snapshot(path: str | Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding a read transaction for the duration of the block: the WAL
    cannot be reset past its snapshot (benchmarks and tests of incomplete erasures)."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        yield conn
    finally:
        try:
            conn.execute("ROLLBACK")
        finally:
            conn.close()


def optimize(conn: sqlite3.Connection, *, wait_ms: int | None = None) -> None:
    """PRAGMA optimize. ``wait_ms``: wait at most this long for a lock another process holds
    (closing: housekeeping must not wait out a whole busy timeout), then StoreBusy."""
    if wait_ms is None:
        conn.execute("PRAGMA optimize")
        return
    saved = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
    try:
        conn.execute("PRAGMA optimize")
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(saved)}")


_depths: dict[int, int] = {}  # id(conn) -> open transaction depth
_depth_lock = threading.Lock()


@contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """One atomic unit of work. Nests with savepoints; the outermost takes the write lock
    up front (BEGIN IMMEDIATE) so concurrent writers queue on busy_timeout instead of
    failing half-way with SQLITE_BUSY on lock upgrade."""
    key = id(conn)
    with _depth_lock:
        depth = _depths.get(key, 0)
        _depths[key] = depth + 1
    name = f"memoryd_sp{depth}"
    try:
        if depth == 0:
            conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        else:
            conn.execute(f"SAVEPOINT {name}")
    except StoreError:  # busy, read-only, ...
        _pop(key, depth)
        raise
    except sqlite3.OperationalError as exc:
        _pop(key, depth)
        if is_busy(exc):
            raise busy_error(exc, getattr(conn, "memoryd_path", "")) from exc
        raise StoreError(f"could not start a transaction: {exc}") from exc
    try:
        yield conn
    except BaseException:
        try:
            # a full disk or an I/O error may have rolled the whole transaction back already
            # (SQLite does for SQLITE_FULL/IOERR/NOMEM): rolling back again would replace the
            # real error with "no transaction is active"
            if conn.in_transaction:
                if depth == 0:
                    conn.execute("ROLLBACK")
                else:
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
        finally:
            _pop(key, depth)
        raise
    try:
        conn.execute("COMMIT" if depth == 0 else f"RELEASE {name}")
    except BaseException:
        if depth == 0 and conn.in_transaction:  # COMMIT refused (SQLITE_BUSY): nothing half-done stays
            conn.execute("ROLLBACK")
        raise
    finally:
        _pop(key, depth)


def _pop(key: int, depth: int) -> None:
    with _depth_lock:
        if depth == 0:
            _depths.pop(key, None)
        else:
            _depths[key] = depth
