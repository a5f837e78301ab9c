"""JSONL import parsing and export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from ..models import NewMemory, Provenance, SearchFilters
from .importers import parse_memoryd_jsonl

__all__ = ["parse_jsonl", "export_jsonl"]


def parse_jsonl(
    raw: bytes, *, default_provenance: Provenance, max_bytes: int
) -> tuple[list[NewMemory], list[tuple[int, str]]]:
    """Parse and validate every line (every field's type checked, see importers.record_to_new);
    returns (valid items, [(line number, error)])."""
    items, errors = parse_memoryd_jsonl(raw, default_provenance=default_provenance, max_bytes=max_bytes)
    return items, [(int(where.split()[1]), msg) for where, msg in errors]


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
