"""Read memories from other formats: memoryd's own JSONL export, the official MCP memory
server's ``memory.jsonl`` knowledge graph, and a folder of Markdown notes.

Parsers only: each returns ``(items, errors)`` where every item is already validated and
every error names its record (``line 3``, ``notes/a.md``) with a clear message, never a
traceback. The caller imports everything, nothing (any error), or the valid records
(``--skip-invalid``). No database access here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from ..models import NewMemory, Provenance
from ..validation import decode_utf8, validate_new

__all__ = ["FORMATS", "RecordError", "record_to_new", "parse_memoryd_jsonl", "parse_mcp_memory_jsonl",
           "parse_markdown_dir", "detect_format"]

FORMATS = ("memoryd", "mcp-memory", "markdown")
RecordError = tuple[str, str]  # (where, message)

def _typename(v: Any) -> str:
    return {list: "a list", dict: "an object", bool: "a boolean", str: "text", type(None): "null"}.get(
        type(v), "a number" if isinstance(v, int | float) else type(v).__name__)


def _want_str(obj: dict, key: str, *, optional: bool = True) -> str | None:
    v = obj.get(key)
    if v is None and optional:
        return None
    if not isinstance(v, str):
        raise ValidationError(f"'{key}' must be text, got {_typename(v)}")
    return v


def _time(v: Any, key: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, int | float) and not isinstance(v, bool):
        if not math.isfinite(v):
            raise ValidationError(f"'{key}' must be a finite number")
        return float(v)
    if isinstance(v, str):
        try:
            dt = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(f"'{key}' must be POSIX seconds or an ISO 8601 date, got {v!r}") from None
        return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()
    raise ValidationError(f"'{key}' must be POSIX seconds or an ISO 8601 date, got {_typename(v)}")


def _tags(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return tuple(t for t in re.split(r"[,\s]+", v) if t)
    if not isinstance(v, list) or not all(isinstance(t, str) for t in v):
        raise ValidationError(f"'tags' must be a list of text, got {_typename(v)}"
                              + (" with non-text items" if isinstance(v, list) else ""))
    return tuple(v)


def record_to_new(obj: Any, *, default_provenance: Provenance, max_bytes: int,
                  namespace: str | None = None) -> NewMemory:
    """One memoryd record (an ``add --jsonl`` line or an ``export`` line) -> a validated
    NewMemory. Every field's type is checked; unknown fields (id, updated_at, ...) are ignored."""
    if not isinstance(obj, dict):
        raise ValidationError(f"expected a JSON object, got {_typename(obj)}")
    if "content" not in obj:
        raise ValidationError("missing 'content'")
    prov = obj.get("provenance")
    if prov is not None and not isinstance(prov, dict):
        raise ValidationError(f"'provenance' must be an object, got {_typename(prov)}")
    prov = prov or {}
    source = _want_str(obj, "source") if "source" in obj else _want_str(prov, "source")
    session = _want_str(obj, "session_id") if "session_id" in obj else _want_str(prov, "session_id")
    importance = obj.get("importance", 0.5)
    if isinstance(importance, bool) or not isinstance(importance, int | float):
        raise ValidationError(f"'importance' must be a number in [0, 1], got {_typename(importance)}")
    new = NewMemory(
        content=_want_str(obj, "content", optional=False) or "",
        kind=_want_str(obj, "kind") or "note",
        tags=_tags(obj.get("tags")),
        namespace=namespace or _want_str(obj, "namespace") or "default",
        importance=float(importance),
        provenance=Provenance(agent_id=default_provenance.agent_id, session_id=session,
                              tool=default_provenance.tool, source=source or default_provenance.source),
        created_at=_time(obj.get("created_at"), "created_at"),
    )
    return validate_new(new, max_bytes)


def _lines(raw: bytes) -> Iterable[tuple[int, Any]]:
    """(line number, parsed JSON or the ValidationError) for every non-blank line."""
    for ln, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            yield ln, json.loads(decode_utf8(line, f"line {ln}"))
        except json.JSONDecodeError as exc:
            yield ln, ValidationError(f"not JSON ({exc.msg}, column {exc.colno})")
        except ValidationError as exc:
            yield ln, exc


def parse_memoryd_jsonl(raw: bytes, *, default_provenance: Provenance, max_bytes: int,
                        namespace: str | None = None) -> tuple[list[NewMemory], list[RecordError]]:
    """memoryd's JSONL: ``add --jsonl`` input and ``export`` output (one memory per line)."""
    items: list[NewMemory] = []
    errors: list[RecordError] = []
    for ln, obj in _lines(raw):
        try:
            if isinstance(obj, ValidationError):
                raise obj
            items.append(record_to_new(obj, default_provenance=default_provenance, max_bytes=max_bytes,
                                       namespace=namespace))
        except ValidationError as exc:
            errors.append((f"line {ln}", str(exc).replace(f"line {ln} ", "")))
    return items, errors


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:\-/]+", "-", s.strip()).strip("-")[:64] or "x"


def parse_mcp_memory_jsonl(raw: bytes, *, default_provenance: Provenance, max_bytes: int,
                           namespace: str | None = None) -> tuple[list[NewMemory], list[RecordError]]:
    """The official MCP memory server's ``memory.jsonl``: ``{"type": "entity", "name",
    "entityType", "observations": [...]}`` and ``{"type": "relation", "from", "to",
    "relationType"}`` lines. Each observation becomes one memory ("Name (type): observation"),
    an entity without observations one ("Name is a type"), each relation one ("A works_at B");
    tags: ``entity:<name>`` and the entity type, or ``relation``."""
    items: list[NewMemory] = []
    errors: list[RecordError] = []
    prov = Provenance(agent_id=default_provenance.agent_id, tool=default_provenance.tool,
                      source=default_provenance.source or "mcp-memory")
    for ln, obj in _lines(raw):
        try:
            if isinstance(obj, ValidationError):
                raise obj
            if not isinstance(obj, dict):
                raise ValidationError(f"expected a JSON object, got {_typename(obj)}")
            kind = obj.get("type")
            if kind == "entity":
                name, etype = _want_str(obj, "name", optional=False), _want_str(obj, "entityType", optional=False)
                obs = obj.get("observations", [])
                if not isinstance(obs, list) or not all(isinstance(o, str) for o in obs):
                    raise ValidationError(f"'observations' must be a list of text, got {_typename(obs)}")
                tags = (f"entity:{_slug(name)}", _slug(etype))
                texts = [f"{name} ({etype}): {o}" for o in obs if o.strip()] or [f"{name} is a {etype}"]
                new = [NewMemory(content=t, kind="fact", tags=tags, namespace=namespace or "default",
                                 provenance=prov) for t in texts]
            elif kind == "relation":
                a, b = _want_str(obj, "from", optional=False), _want_str(obj, "to", optional=False)
                rel = _want_str(obj, "relationType", optional=False)
                new = [NewMemory(content=f"{a} {rel} {b}", kind="relation", namespace=namespace or "default",
                                 tags=("relation", f"entity:{_slug(a)}", f"entity:{_slug(b)}"), provenance=prov)]
            else:
                raise ValidationError(f"'type' must be \"entity\" or \"relation\", got {obj.get('type')!r}")
            items.extend(validate_new(n, max_bytes) for n in new)
        except ValidationError as exc:
            errors.append((f"line {ln}", str(exc).replace(f"line {ln} ", "")))
    return items, errors


_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_HEADING = re.compile(r"^(#{1,3})[ \t]+(.+?)[ \t#]*$", re.M)


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    m = _FRONT.match(text)
    if not m:
        return {}, text
    import yaml

    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ValidationError(f"front matter is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(meta, dict):
        raise ValidationError("front matter must be a mapping (key: value lines)")
    return meta, text[m.end():]


def _sections(title: str, body: str) -> list[tuple[str, str]]:
    """(heading, text) for the part before the first heading and each #/##/### section."""
    marks = list(_HEADING.finditer(body))
    out = [(title, body[: marks[0].start()] if marks else body)]
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(body)
        out.append((m.group(2).strip(), body[m.end():end]))
    return [(h, t.strip()) for h, t in out if t.strip()]


def parse_markdown_dir(root: Path, *, default_provenance: Provenance, max_bytes: int, split: str = "note",
                       namespace: str | None = None) -> tuple[list[NewMemory], list[RecordError]]:
    """Every ``*.md`` under ``root`` (sorted): one memory per note, or per section with
    ``split="section"`` (headings #, ##, ###). Front matter: ``tags``/``tag``/``keywords``
    become tags; ``namespace``, ``kind`` and ``importance`` are honoured (``--namespace`` wins)."""
    if split not in ("note", "section"):
        raise ValidationError(f"split must be 'note' or 'section', got {split!r}")
    items: list[NewMemory] = []
    errors: list[RecordError] = []
    files = sorted(root.rglob("*.md")) if root.is_dir() else [root]
    for path in files:
        rel = str(path.relative_to(root)) if root.is_dir() else path.name
        try:
            try:
                text = decode_utf8(path.read_bytes(), rel)
            except OSError as exc:
                raise ValidationError(f"cannot read: {exc.strerror}") from None
            meta, body = _front_matter(text)
            tags: list[str] = []
            for key in ("tags", "tag", "keywords"):
                if key in meta:
                    v = meta[key]
                    if isinstance(v, list) and all(isinstance(t, str | int | float) for t in v):
                        v = [str(t) for t in v]
                    tags += _tags(v)
            record = {"kind": meta.get("kind", "note"), "importance": meta.get("importance", 0.5),
                      "namespace": meta.get("namespace"), "created_at": meta.get("date") if isinstance(
                          meta.get("date"), str | int | float) and not isinstance(meta.get("date"), bool) else None}
            title = str(meta.get("title") or path.stem)
            parts = [(title, body.strip())] if split == "note" else _sections(title, body)
            for heading, content in parts:
                if not content:
                    continue
                if split == "section" and heading != title:
                    content = f"{title} — {heading}\n\n{content}"
                source = rel if split == "note" else f"{rel}#{_slug(heading).lower()}"
                obj = {**record, "content": content, "tags": tags, "source": source}
                items.append(record_to_new(obj, default_provenance=default_provenance, max_bytes=max_bytes,
                                           namespace=namespace))
        except ValidationError as exc:
            errors.append((rel, str(exc)))
    return items, errors


def detect_format(path: Path, raw: bytes | None) -> str:
    """markdown for a folder or a .md file; for JSONL, mcp-memory when the first record has a
    ``type`` of entity/relation, else memoryd."""
    if path.is_dir() or path.suffix.lower() in (".md", ".markdown"):
        return "markdown"
    for line in (raw or b"").split(b"\n"):
        if line.strip():
            try:
                first = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                return "memoryd"
            return "mcp-memory" if isinstance(first, dict) and first.get("type") in ("entity", "relation") else "memoryd"
    return "memoryd"
