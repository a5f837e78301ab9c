"""Input validation shared by every adapter (CLI, MCP, import)."""

from __future__ import annotations

import math
import re
import unicodedata

from .errors import ValidationError
from .models import NewMemory

__all__ = ["validate_new", "validate_tags", "decode_utf8", "MAX_TAGS", "MAX_QUERY_CHARS"]

MAX_TAGS = 32
MAX_TAG_CHARS = 64
MAX_QUERY_CHARS = 4096
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-/]{0,127}$")


def decode_utf8(data: bytes, what: str = "input") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{what} is not valid UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 4]!r})"
        ) from exc


def _check_text(value: str, what: str, *, controls: bool) -> None:
    """Text that is stored must encode as UTF-8 (no lone surrogate: what Python makes of
    invalid UTF-8 in argv, or of a JSON ``\\udXXX`` escape) and hold no NUL; with
    ``controls=False`` no control character at all (tags are single words)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{what} is not valid Unicode (lone surrogate; invalid UTF-8?)") from exc
    if "\x00" in value:
        raise ValidationError(f"{what} contains a NUL character")
    if not controls and any(unicodedata.category(c) == "Cc" for c in value):
        raise ValidationError(f"{what} contains a control character")


def validate_tags(values) -> tuple[str, ...]:
    """Tags as stored: stripped, no whitespace or control character inside, valid Unicode, at
    most MAX_TAG_CHARS each and MAX_TAGS in all, duplicates dropped (first kept)."""
    tags: list[str] = []
    for t in values:
        if not isinstance(t, str) or not t.strip():
            raise ValidationError(f"invalid tag {t!r}")
        t = t.strip()
        _check_text(t, f"tag {t!r}", controls=False)
        if len(t) > MAX_TAG_CHARS or any(c.isspace() for c in t):
            raise ValidationError(f"invalid tag {t!r}: no whitespace, at most {MAX_TAG_CHARS} chars")
        if t not in tags:
            tags.append(t)
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"too many tags ({len(tags)}); the limit is {MAX_TAGS}")
    return tuple(tags)


def validate_new(new: NewMemory, max_bytes: int) -> NewMemory:
    if not isinstance(new.content, str):
        raise ValidationError("content must be text")
    content = new.content.strip()
    if not content:
        raise ValidationError("content is empty")
    _check_text(content, "content", controls=True)
    size = len(content.encode("utf-8"))
    if size > max_bytes:
        raise ValidationError(f"content is {size} bytes; the limit is {max_bytes} bytes")
    if not _NAME.match(new.namespace or ""):
        raise ValidationError(
            f"invalid namespace {new.namespace!r}: letters, digits and _.:-/ (max 128), starting alphanumeric"
        )
    if not _NAME.match(new.kind or ""):
        raise ValidationError(f"invalid kind {new.kind!r}")
    if not isinstance(new.importance, (int, float)) or not math.isfinite(new.importance) or not (
        0.0 <= new.importance <= 1.0
    ):
        raise ValidationError(f"importance must be a number in [0, 1], got {new.importance!r}")
    tags = validate_tags(new.tags)
    if new.provenance.source is not None:
        _check_text(new.provenance.source, "source", controls=True)
    if new.provenance.session_id is not None:
        _check_text(new.provenance.session_id, "session", controls=True)
    if new.created_at is not None and (not math.isfinite(new.created_at) or new.created_at < 0):
        raise ValidationError("created_at must be a POSIX timestamp")
    return NewMemory(
        content=content,
        kind=new.kind,
        tags=tuple(tags),
        namespace=new.namespace,
        importance=float(new.importance),
        provenance=new.provenance,
        created_at=new.created_at,
    )
