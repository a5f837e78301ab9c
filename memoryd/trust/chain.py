"""A keyed hash chain for append-only logs (trust evidence, erasure audit).

Each record is sealed with

    mac_i = HMAC-SHA256(key, bytes.fromhex(mac_{i-1}) || canonical_json(record_i))

starting from ``mac_{-1} = GENESIS_MAC`` (or a checkpoint). Because every MAC covers the
previous one, editing, deleting, inserting or reordering any record breaks the MAC of
that position, and without the key nobody can compute a valid replacement chain.

What it does *not* show on its own: cutting records off the **end** (the shorter chain
is still valid). Keep the head MAC and count somewhere else (a second file, a receipt
handed out) and pass them as ``expected_head`` / ``expected_count``.

Records are plain JSON values (dict/list/str/int/float/bool/None) serialised canonically:
sorted keys, no whitespace, UTF-8, NaN/Infinity refused. Only :func:`load_or_create_key`
touches the filesystem.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, TrustError

__all__ = [
    "GENESIS_MAC",
    "KEY_BYTES",
    "ChainVerification",
    "canonical_json",
    "seal",
    "seal_all",
    "verify_chain",
    "derive_key",
    "load_or_create_key",
]

log = logging.getLogger(__name__)

KEY_BYTES = 32
GENESIS_MAC = "00" * 32  # prev_mac of the first record


@dataclass(frozen=True)
class ChainVerification:
    ok: bool
    first_bad_index: int | None  # 0-based position of the first record that fails; None when ok
    count: int  # records read
    head: str  # MAC of the last record that verified (GENESIS/start when none)
    reason: str = ""

    def raise_if_bad(self) -> None:
        if not self.ok:
            raise TrustError(f"evidence log failed verification at record {self.first_bad_index}: {self.reason}")


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """Deterministic bytes for a record: sorted keys, compact separators, UTF-8."""
    if not isinstance(record, Mapping):
        raise TrustError(f"a chain record must be a mapping, got {type(record).__name__}")
    try:
        text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TrustError(f"record is not canonical JSON: {exc}") from exc
    return text.encode("utf-8")


def _mac_bytes(mac: str) -> bytes:
    try:
        raw = bytes.fromhex(mac)
    except (TypeError, ValueError) as exc:
        raise TrustError("a MAC must be 64 hex characters") from exc
    if len(raw) != 32:
        raise TrustError("a MAC must be 64 hex characters")
    return raw


def _check_key(key: bytes) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
        raise TrustError("chain key must be at least 16 bytes")
    return bytes(key)


def seal(record: Mapping[str, Any], prev_mac: str | None, key: bytes) -> str:
    """MAC (64 hex chars) of ``record`` chained to ``prev_mac`` (None: first record)."""
    prev = _mac_bytes(GENESIS_MAC if prev_mac is None else prev_mac)
    return hmac.new(_check_key(key), prev + canonical_json(record), hashlib.sha256).hexdigest()


def seal_all(records: Iterable[Mapping[str, Any]], key: bytes, prev_mac: str | None = None) -> list[str]:
    """MACs for records appended in order after ``prev_mac``."""
    out: list[str] = []
    for r in records:
        prev_mac = seal(r, prev_mac, key)
        out.append(prev_mac)
    return out


def verify_chain(
    records: Iterable[tuple[Mapping[str, Any], str]],
    key: bytes,
    *,
    start_mac: str | None = None,
    expected_count: int | None = None,
    expected_head: str | None = None,
) -> ChainVerification:
    """Recompute every MAC in order. Stops at the first mismatch.

    ``start_mac`` resumes from a checkpoint (the MAC of the record before the first one
    given). ``expected_count`` / ``expected_head`` (kept outside the log) catch truncation.
    A wrong key fails at index 0.
    """
    key = _check_key(key)
    prev = GENESIS_MAC if start_mac is None else start_mac
    _mac_bytes(prev)
    count = 0
    for i, item in enumerate(records):
        try:
            record, mac = item
        except (TypeError, ValueError):
            return ChainVerification(False, i, count, prev, "entry is not a (record, mac) pair")
        count = i + 1
        try:
            want = seal(record, prev, key)
        except TrustError as exc:
            return ChainVerification(False, i, count, prev, str(exc))
        if not isinstance(mac, str) or not hmac.compare_digest(want, mac.lower()):
            return ChainVerification(
                False, i, count, prev, "MAC mismatch: record edited, removed, inserted or reordered, or wrong key"
            )
        prev = want
    if expected_count is not None and count != expected_count:
        return ChainVerification(
            False, min(count, expected_count), count, prev, f"expected {expected_count} records, found {count}"
        )
    if expected_head is not None and not hmac.compare_digest(prev, expected_head.lower()):
        return ChainVerification(False, count, count, prev, "last MAC differs from the recorded head (truncated log?)")
    return ChainVerification(True, None, count, prev, "")


def derive_key(master: bytes, label: str) -> bytes:
    """A per-log subkey (``label`` e.g. 'trust-evidence', 'erasure-audit') so a MAC from one
    log can never be replayed as valid in another."""
    return hmac.new(_check_key(master), b"memoryd/chain-key/" + label.encode("utf-8"), hashlib.sha256).digest()


def _read_key(path: Path) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise TrustError(f"cannot open key file {path}: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise TrustError(f"key file {path} is not a regular file")
        if os.name == "posix" and st.st_mode & 0o077:
            raise TrustError(f"key file {path} is readable by other users (mode {st.st_mode & 0o777:o}); chmod 600 it")
        data = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) != KEY_BYTES:
        raise TrustError(f"key file {path} must hold exactly {KEY_BYTES} bytes, found {len(data)}")
    return data


def load_or_create_key(path: str | os.PathLike[str]) -> bytes:
    """The 32-byte secret at ``path``; created (mode 0600, atomically) when missing.

    Refuses a key that is the wrong size, not a regular file, a symlink, or readable by
    group/others. Creation writes a temp file and hard-links it into place, so two
    processes racing get the same key and nobody ever reads a half-written one.
    """
    p = Path(path)
    if p.exists() or p.is_symlink():
        return _read_key(p)
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(8)}.tmp")
    try:
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:  # a read-only or foreign home: one line, not a traceback
        raise ConfigError(f"cannot create the key file {p}: {exc.strerror or exc}; memoryd keeps its keys in its "
                          "home: set MEMORYD_HOME (or --home) to a directory this user can write") from exc
    try:
        try:
            os.write(fd, secrets.token_bytes(KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, p)
            log.info("created key file %s", p)
        except FileExistsError:
            pass  # another process won the race: use its key
        except OSError:  # no hard links on this filesystem: exclusive rename-free fallback
            try:
                fd2 = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with open(tmp, "rb") as src:
                    os.write(fd2, src.read())
                os.fsync(fd2)
                os.close(fd2)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key(p)
