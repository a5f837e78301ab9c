"""Reading filters and lists out of query strings and forms (no I/O)."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from ..errors import ValidationError
from ..models import SearchFilters

__all__ = ["parse_time", "split_list", "filters_from", "PAGE_SIZE", "page_number"]

PAGE_SIZE = 50
_REL = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: str | None, now: float | None = None) -> float | None:
    """ISO 8601 date/time, POSIX seconds, or an age like 30m / 12h / 7d / 2w (ago)."""
    v = (value or "").strip()
    if not v:
        return None
    m = _REL.match(v)
    if m:
        return (now if now is not None else time.time()) - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        return float(v)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise ValidationError(f"cannot read time {value!r}: use ISO 8601 (2026-01-31), POSIX seconds or an age like 7d") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def split_list(value: str | None, limit: int = 64) -> tuple[str, ...]:
    """'a, b\\nc' -> ('a', 'b', 'c'): commas or new lines, blanks dropped, order kept."""
    items = [s.strip() for s in re.split(r"[,\n]", value or "") if s.strip()]
    if len(items) > limit:
        raise ValidationError(f"at most {limit} values")
    return tuple(dict.fromkeys(items))


def filters_from(q) -> SearchFilters:
    """Filters of the Memories page from its query string."""
    ns = split_list(q.get("namespace"))
    return SearchFilters(namespaces=ns or None, tags=split_list(q.get("tag")),
                         agent_id=(q.get("agent") or "").strip() or None,
                         since=parse_time(q.get("since")), until=parse_time(q.get("until")))


def page_number(q) -> int:
    try:
        return max(0, min(int(q.get("page") or 0), 10_000))
    except ValueError:
        raise ValidationError("page must be a number") from None
