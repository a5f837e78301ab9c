"""Reading filters and lists out of query strings and forms (no I/O)."""

from __future__ import annotations

import re
import time

from ..errors import ValidationError
from ..models import SearchFilters
from ..timeparse import parse_time

__all__ = ["split_list", "filters_from", "PAGE_SIZE", "page_number"]

PAGE_SIZE = 50


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
                         since=parse_time(q.get("since"), now=time.time(), what="since"),
                         until=parse_time(q.get("until"), now=time.time(), what="until"))


def page_number(q) -> int:
    try:
        return max(0, min(int(q.get("page") or 0), 10_000))
    except ValueError:
        raise ValidationError("page must be a number") from None
