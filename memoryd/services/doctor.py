"""Health checks for `memoryd doctor`."""

from __future__ import annotations

import stat
import time
from pathlib import Path
from typing import Any

from ..db.driver import sqlite3
from ..db import pragma, quick_check, writable
from ..errors import StoreReadOnly
from ..db.migrate import applied_versions, available_migrations
from ..store import memories as mstore
from ..store import vectors as vstore

__all__ = ["run_doctor", "warm_model", "exposed_files"]


def _check(name: str, fn) -> dict[str, Any]:
    try:
        ok, detail = fn()
    except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return {"check": name, "ok": bool(ok), "detail": detail}


def exposed_files(home: Path, db_path: Path) -> list[tuple[Path, int, str]]:
    """The store's files (the database, the key) and directories (home, the database's
    directory) that users other than the owner can read or enter: (path, mode, the chmod
    that fixes it). Files memoryd creates are 0600 and directories 0700; older stores were
    made with the umask's modes and are not changed behind the user's back. The -wal and
    -shm files are not listed: SQLite makes them with the database file's mode (and removes
    them when the last connection closes), so fixing the database fixes them."""
    out = []
    dirs = dict.fromkeys([Path(home), Path(db_path).parent])
    files = [Path(db_path), Path(home) / "memoryd.key"]
    for p, want in [*((d, "700") for d in dirs), *((f, "600") for f in files)]:
        try:
            st = p.lstat()
        except OSError:
            continue
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077 and not stat.S_ISLNK(st.st_mode):
            out.append((p, mode, f"chmod {want} {p}"))
    return out


def _check_permissions(app) -> dict[str, Any]:
    st = app.settings
    bad = exposed_files(st.home, st.db_path)
    if not bad:
        return {"check": "file permissions", "ok": True, "level": "ok",
                "detail": "the home and the store's files are readable by their owner only"}
    what = "; ".join(f"{p} is mode {mode:04o}" for p, mode, _ in bad)
    fix = " && ".join(c for _, _, c in bad)
    return {"check": "file permissions", "ok": False, "level": "warning",
            "detail": f"other users on this machine can read the store: {what} (SQLite gives the -wal and "
                      f"-shm files the database's mode). Fix: {fix}",
            "fix": [c for _, _, c in bad]}


def _check_writable(app) -> dict[str, Any]:
    with app.lock:
        can = writable(app.conn)
    if can is False:
        p = app.settings.db_path
        return {"check": "writable", "ok": False, "level": "warning",
                "detail": f"the store is read-only: commands that read work, writes fail. To write, make {p} "
                          f"and its directory {p.parent} writable by this user (SQLite writes {p.name}-wal and "
                          f"{p.name}-shm there), or move it off a read-only file system"
                          + (" (it is on one: opened read-only, as it is)" if getattr(app.conn, "memoryd_immutable",
                                                                                      False) else "")}
    if can is None:
        return {"check": "writable", "ok": True, "level": "ok",
                "detail": "not checked: another process holds the write lock"}
    return {"check": "writable", "ok": True, "level": "ok", "detail": "yes"}


def run_doctor(app) -> list[dict[str, Any]]:
    conn: sqlite3.Connection = app.conn
    checks = []

    def pragmas():
        jm, fk, sd = (pragma(conn, n) for n in ("journal_mode", "foreign_keys", "secure_delete"))
        immutable = getattr(conn, "memoryd_immutable", False)  # read-only media: opened as written, WAL unread
        if immutable:
            jm = "not checked (a read-only file system: opened immutable)"
        ok = (immutable or jm.lower() == "wal") and fk == 1 and sd == 1
        return ok, f"journal_mode={jm} foreign_keys={fk} secure_delete={sd} sqlite={sqlite3.sqlite_version}"

    def migrations():
        have = applied_versions(conn)
        want = {m.version for m in available_migrations(app.settings.migrations_dir)}
        missing = sorted(want - have)
        return not missing, f"applied {sorted(have)}" + (f", missing {missing}" if missing else "")

    def fts():
        with app.lock:
            try:
                mstore.fts_integrity_check(conn)
            except StoreReadOnly:  # the check is an INSERT of a command row: reported under "writable"
                return True, "not checked: the store is read-only"
        return True, "integrity-check passed"

    def model():
        emb = app.embedder
        v = emb.encode(["memoryd doctor"])
        backend = getattr(emb, "backend", "") or "custom"
        why = getattr(emb, "fallback_reason", None)
        detail = f"{emb.name} dim={emb.dim} on {backend} from {app.settings.resolved_model_path()}"
        return v.shape == (1, emb.dim), detail + (f" (ONNX not used: {why})" if why else "")

    def vectors():
        with app.lock:
            n, by_model = mstore.count(conn), vstore.count_by_model(conn)
        name = app.embedder.name
        have = by_model.get(name, 0)
        others = sum(by_model.values()) - have
        detail = f"{n} memories, {have} vectors of {name}"
        if others:
            detail += f", {others} of other models ({', '.join(sorted(set(by_model) - {name}))})"
        if have != n:
            detail += ": run `memoryd reindex` (memories without a current vector are missed by the vector leg)"
        return have == n, detail

    def integrity():
        r = quick_check(conn)
        return r == "ok", r

    checks.append(_check("database", lambda: (True, str(app.settings.db_path))))
    checks.append(_check_permissions(app))
    checks.append(_check_writable(app))
    checks.append(_check("pragmas", pragmas))
    checks.append(_check("migrations", migrations))
    checks.append(_check("sqlite quick_check", integrity))
    checks.append(_check("fts5", fts))
    checks.append(_check("vectors", vectors))
    checks.append(_check("embedding model", model))
    return checks


def warm_model(app) -> dict[str, Any]:
    """Load the embedding model now, doing the one-off ONNX export into the cache if it is
    not there yet, so that the first `serve` or search after installing starts fast."""
    from ..embedding.onnx import onnx_cache_path

    st = app.settings
    model_dir = st.resolved_model_path()
    graph = onnx_cache_path(model_dir, st.cache_dir) if st.cache_dir else None
    had = graph is not None and graph.exists()
    t0 = time.perf_counter()
    emb = app.embedder
    emb.encode(["memoryd warm up"])
    backend = getattr(emb, "backend", "") or "custom"
    return {
        "model": emb.name,
        "backend": backend,
        "onnx_graph": str(graph) if graph is not None and backend == "onnx" else None,
        "exported_now": backend == "onnx" and not had,
        "seconds": round(time.perf_counter() - t0, 2),
        "fallback_reason": getattr(emb, "fallback_reason", None),
    }
