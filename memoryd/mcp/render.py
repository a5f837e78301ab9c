"""How the MCP tools and resources render memories and search hits: plain JSON, times in
ISO 8601 UTC (``Z``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..models import Memory, SearchHit

__all__ = ["iso_time", "render_memory", "render_hit", "plain"]


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def render_memory(m: Memory) -> dict[str, Any]:
    return {
        "id": m.id,
        "content": m.content,
        "kind": m.kind,
        "tags": list(m.tags),
        "namespace": m.namespace,
        "importance": m.importance,
        "created_at": iso_time(m.created_at),
        "provenance": dataclasses.asdict(m.provenance),
    }


def render_hit(h: SearchHit) -> dict[str, Any]:
    d = render_memory(h.memory)
    d.update(score=round(h.score, 6), why=h.why, legs=h.legs)
    if h.trust is not None:
        d["trust"] = round(h.trust, 4)
        d["quarantined"] = h.quarantined
    return d


def plain(item: Any) -> dict[str, Any]:
    if hasattr(item, "to_dict"):
        return dict(item.to_dict())
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    if isinstance(item, Mapping):
        return dict(item)
    return {"value": str(item)}
