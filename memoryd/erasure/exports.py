"""Export files that hold memory content: written atomically and registered, so that every
erasure can rewrite them without the erased memories (or destroy them).

Why rewrite rather than encrypt: an export is meant to be read by people and other tools
(JSONL, JSON); encrypting it with a key erasure could destroy would make every export
unreadable outside memoryd. Instead memoryd keeps a registry (table `export_files`) of the
exports it wrote, and erasure rewrites each one:

* JSONL exports (`memoryd export --out`): the lines of erased memories are removed;
* subject exports (`memoryd subject export --out`): rewritten without the erased memories,
  or destroyed when none of their memories is left;
* graph exports (`memoryd graph export --out`, JSON): the erased memories' nodes and edges
  are removed, community labels naming erased words blanked; GraphML exports are destroyed
  when they name an erased memory, plots (`memoryd graph plot`, labels drawn as pixels no
  scan can read) whenever an erasure deletes anything; model directories are reported (the
  model ledger edits and shreds the weights).

The old bytes are overwritten: the new file is written next to the old one and renamed over
it, then the old inode (still open) is overwritten with zeros and synced. A crash at any
point leaves either the old or the new file under the name, never a half-written one, and
a rerun of the erasure finishes the job. What the filesystem itself keeps (journal, copy-on-
write snapshots, SSD wear levelling) is out of reach of any program: see docs/erasure.md.
Exports written to stdout are not registered and are the operator's responsibility.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import ValidationError

__all__ = ["FILE_ROLES", "ExportRewrite", "write_atomic", "rewrite_export", "shred", "shred_tree", "tmp_path_for", "fsync_dir"]

_ZERO_CHUNK = 1 << 20
# roles of registered files in receipts (never their paths: a path can hold a name)
FILE_ROLES = {"jsonl": "export", "subject-json": "subject-export", "graph-json": "graph-export",
              "graphml": "graph-export", "plot": "graph-plot", "model-dir": "model-dir"}


@dataclass
class ExportRewrite:
    status: str  # unchanged | rewritten | shredded | missing
    lines_removed: int = 0


def tmp_path_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.memoryd-tmp")


def _zero_fd(fd: int) -> None:
    size = os.fstat(fd).st_size
    os.lseek(fd, 0, os.SEEK_SET)
    zeros = bytes(min(size, _ZERO_CHUNK))
    left = size
    while left > 0:
        left -= os.write(fd, zeros[: min(left, len(zeros))])
    os.fsync(fd)


def write_atomic(path: Path, write: Callable[[IO[str]], int]) -> int:
    """Write a new file (mode 0600) through a temp file and a rename; if a file was there,
    its old bytes are overwritten with zeros after the rename. Returns what `write` returns."""
    path = Path(path)
    tmp = tmp_path_for(path)
    old_fd = None
    try:
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            n = write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            old_fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            old_fd = None
        os.replace(tmp, path)
        fsync_dir(path.parent)
        if old_fd is not None:
            _zero_fd(old_fd)
        return n
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ValidationError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        if old_fd is not None:
            os.close(old_fd)


def fsync_dir(d: Path) -> None:
    """Make a rename or unlink in directory `d` durable (best effort)."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def shred(path: Path) -> None:
    """Overwrite a file with zeros, sync, unlink."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        _zero_fd(fd)
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)


def shred_tree(path: Path) -> int:
    """Overwrite every file under `path` (or `path` itself) with zeros, fsync, unlink, then
    remove the directories: old model weights are destroyed, not just unlinked. Best effort
    (like rmtree(ignore_errors=True)); returns the number of files shredded."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return 0
    if path.is_symlink() or path.is_file():
        if path.is_symlink():
            path.unlink(missing_ok=True)
            return 0
        try:
            shred(path)
            return 1
        except OSError:
            path.unlink(missing_ok=True)
            return 0
    n = 0
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            n += shred_tree(Path(root) / name)
        for name in dirs:
            d = Path(root) / name
            try:
                d.unlink() if d.is_symlink() else d.rmdir()
            except OSError:
                pass
    try:
        path.rmdir()
    except OSError:
        pass
    fsync_dir(path.parent)
    return n


def rewrite_export(
    path: Path,
    fmt: str,
    is_erased_id: Callable[[str], bool],
    mentions_erased: Callable[[str], bool],
) -> ExportRewrite:
    """Remove erased memories from one registered export. Idempotent.

    `is_erased_id(id)`: the memory id was erased. `mentions_erased(text)`: a line/file that
    cannot be parsed contains an erased id or erased text (then it goes too)."""
    path = Path(path)
    tmp_path_for(path).unlink(missing_ok=True)  # leftover of an interrupted rewrite
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ExportRewrite("missing")
    text = raw.decode("utf-8", errors="replace")
    if fmt == "subject-json":
        return _rewrite_subject(path, text, is_erased_id, mentions_erased)
    if fmt == "graph-json":
        return _rewrite_graph_json(path, text, is_erased_id, mentions_erased)
    if fmt in ("graphml", "plot"):
        # GraphML: rewritten by re-exporting, not here; a plot's labels are pixels no scan
        # can read: either goes as soon as it may show an erased memory (re-create it)
        if fmt == "plot" or mentions_erased(text):
            shred(path)
            return ExportRewrite("shredded")
        return ExportRewrite("unchanged")
    if fmt == "model-dir":  # weights are edited and shredded by the model ledger's hook
        return ExportRewrite("unchanged")
    kept: list[str] = []
    removed = 0
    for line in text.splitlines(keepends=True):
        if not line.strip():
            kept.append(line)
            continue
        try:
            obj = json.loads(line)
            mem_id = obj.get("id") if isinstance(obj, dict) else None
        except json.JSONDecodeError:
            mem_id = None
        if (isinstance(mem_id, str) and is_erased_id(mem_id)) or (mem_id is None and mentions_erased(line)):
            removed += 1
        else:
            kept.append(line)
    if not removed:
        return ExportRewrite("unchanged")
    write_atomic(path, lambda fh: fh.write("".join(kept)))
    return ExportRewrite("rewritten", removed)


def _rewrite_subject(path: Path, text: str, is_erased_id, mentions_erased) -> ExportRewrite:
    try:
        obj = json.loads(text)
        mems = obj["memories"]
        assert isinstance(mems, list)
    except (json.JSONDecodeError, KeyError, TypeError, AssertionError):
        if mentions_erased(text):
            shred(path)
            return ExportRewrite("shredded")
        return ExportRewrite("unchanged")
    keep = [m for m in mems if not (isinstance(m, dict) and isinstance(m.get("id"), str) and is_erased_id(m["id"]))]
    removed = len(mems) - len(keep)
    if not removed:
        return ExportRewrite("unchanged")
    if not keep:  # the export was about the erased data: nothing worth keeping
        shred(path)
        return ExportRewrite("shredded", removed)
    obj["memories"] = keep
    write_atomic(path, lambda fh: fh.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n"))
    return ExportRewrite("rewritten", removed)


def _rewrite_graph_json(path: Path, text: str, is_erased_id, mentions_erased) -> ExportRewrite:
    """`graph export --out FILE` (JSON): drop the erased memories' nodes and edges, and blank
    the label of every community whose label names erased text."""
    try:
        obj = json.loads(text)
        nodes, edges, comms = obj["nodes"], obj["edges"], obj["communities"]
        assert isinstance(nodes, list) and isinstance(edges, list) and isinstance(comms, list)
    except (json.JSONDecodeError, KeyError, TypeError, AssertionError):
        if mentions_erased(text):
            shred(path)
            return ExportRewrite("shredded")
        return ExportRewrite("unchanged")
    gone = {n.get("id") for n in nodes if isinstance(n, dict) and isinstance(n.get("id"), str) and is_erased_id(n["id"])}
    removed_in: dict[object, int] = {}
    for n in nodes:
        if isinstance(n, dict) and n.get("id") in gone:
            removed_in[n.get("community")] = removed_in.get(n.get("community"), 0) + 1
    labels_blanked = 0
    for c in comms:
        if not isinstance(c, dict):
            continue
        if c.get("id") in removed_in and isinstance(c.get("size"), int):
            c["size"] = max(0, c["size"] - removed_in[c["id"]])
        if c.get("label") and mentions_erased(str(c["label"])):
            c["label"] = ""
            labels_blanked += 1
    if not gone and not labels_blanked:
        return ExportRewrite("unchanged")
    obj["nodes"] = [n for n in nodes if not (isinstance(n, dict) and n.get("id") in gone)]
    obj["edges"] = [e for e in edges if not (isinstance(e, dict) and (e.get("source") in gone or e.get("target") in gone))]
    obj["communities"] = [c for c in comms if not (isinstance(c, dict) and c.get("size") == 0)]
    write_atomic(path, lambda fh: fh.write(json.dumps(obj)))
    return ExportRewrite("rewritten", len(gone) + labels_blanked)
