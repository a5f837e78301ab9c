"""JSONL import parsing and export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from ..errors import ValidationError
from ..models import NewMemory, Provenance, SearchFilters
from .validation import decode_utf8, validate_new

__all__ = ["parse_jsonl", "export_jsonl"]


def parse_jsonl(
    raw: bytes, *, default_provenance: Provenance, max_bytes: int
) -> tuple[list[NewMemory], list[tuple[int, str]]]:
    """Parse and validate every line; returns (valid items, [(line number, error)])."""
    items: list[NewMemory] = []
    errors: list[tuple[int, str]] = []
    for ln, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            text = decode_utf8(line, f"line {ln}")
            obj = json.loads(text)
            if not isinstance(obj, dict):
                raise ValidationError("expected a JSON object")
            if "content" not in obj:
                raise ValidationError("missing 'content'")
            tags = obj.get("tags", [])
            if isinstance(tags, str):
                tags = [tags]
            if not isinstance(tags, list):
                raise ValidationError("'tags' must be a list")
            prov = Provenance(
                agent_id=default_provenance.agent_id,
                session_id=obj.get("session_id"),
                tool=default_provenance.tool,
                source=obj.get("source", default_provenance.source),
            )
            new = NewMemory(
                content=obj["content"],
                kind=obj.get("kind", "note"),
                tags=tuple(tags),
                namespace=obj.get("namespace", "default"),
                importance=obj.get("importance", 0.5),
                provenance=prov,
                created_at=obj.get("created_at"),
            )
            items.append(validate_new(new, max_bytes))
        except (ValidationError, json.JSONDecodeError, TypeError) as exc:
            errors.append((ln, str(exc).replace(f"line {ln} ", "")))
    return items, errors


def export_jsonl(app, dest: Path | IO[str], filters: SearchFilters | None = None) -> int:
    """Write memories as JSONL. A file is written atomically (temp file + rename), mode 0600,
    and registered with the erasure service: every later erasure rewrites it."""
    if not isinstance(dest, (str, Path)):
        mems = app.memories.iter_all(filters)
        for m in mems:
            dest.write(json.dumps(m.to_dict(), ensure_ascii=False) + "\n")
        dest.flush()
        return len(mems)
    return app.erasure.write_export(
        Path(dest), "jsonl",
        produce=lambda: app.memories.iter_all(filters),
        render=lambda mems: "".join(json.dumps(m.to_dict(), ensure_ascii=False) + "\n" for m in mems),
    )
