"""Write a client's MCP configuration file: merge memoryd's entry, back up, replace atomically.

Used by ``memoryd mcp-config CLIENT --write``; the merge itself is ``clients.merge_config``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ValidationError
from .clients import ClientConfig, ConfigFormatError, merge_config

__all__ = ["WriteResult", "write_client_config", "write_merged"]


@dataclass(frozen=True)
class WriteResult:
    path: Path
    changed: bool  # False: the file already held exactly this entry (nothing written)
    backup: Path | None  # the previous file, when there was one and it changed
    created: bool  # the file did not exist before


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_client_config(cfg: ClientConfig, path: Path) -> WriteResult:
    """Merge ``cfg``'s entry into ``path`` keeping everything else; the previous version is
    copied to ``<path>.bak`` first. Idempotent: a second run changes nothing."""
    return write_merged(path, lambda existing: merge_config(cfg, existing))


def write_merged(path: Path, merge: Callable[[str | None], str]) -> WriteResult:
    """Replace ``path`` with ``merge(its current text or None)``, backing it up first; nothing
    is written when the text would not change."""
    try:
        existing = path.read_text(encoding="utf-8") if path.exists() else None
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValidationError(f"cannot read {path}: it is not UTF-8 text") from None
    try:
        text = merge(existing)
    except ConfigFormatError as exc:
        raise ValidationError(f"{path}: {exc}") from None
    if text == existing:
        return WriteResult(path, changed=False, backup=None, created=False)
    backup = None
    try:
        if existing is not None:
            backup = path.with_name(path.name + ".bak")
            shutil.copy2(path, backup)
        _atomic_write(path, text)
    except OSError as exc:
        why = exc.strerror or str(exc)
        if path.parent.exists() and not path.parent.is_dir():
            why = f"{path.parent} is not a folder"
        raise ValidationError(f"cannot write {path}: {why}") from None
    return WriteResult(path, changed=True, backup=backup, created=existing is None)
