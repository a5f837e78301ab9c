"""Reading a point in time typed by a person or a model: one parser for the CLI and MCP.

Pure: no clock (``now`` is passed in), no I/O. A value it cannot read is a
:class:`~memoryd.errors.ValidationError` (exit code 2 in the CLI, a ToolError in MCP).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

from .errors import ValidationError

__all__ = ["parse_time"]

_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _finite(t: float, what: str, value: str) -> float:
    """inf and nan read as numbers but bound nothing (SQLite binds NaN as NULL)."""
    if not math.isfinite(t):
        raise ValidationError(f"{what} {value!r} is not a finite time: use ISO 8601, POSIX seconds or an age like 7d")
    return t


def parse_time(value: str | None, *, now: float, what: str = "time") -> float | None:
    """POSIX seconds for an ISO 8601 date/time (UTC when it names no zone, ``Z`` accepted),
    POSIX seconds, or an age such as 30m, 12h, 7d, 2w (that long before ``now``).
    None or a blank string: None (no bound). ``what`` names the field in the error."""
    if value is None or not value.strip():
        return None
    v = value.strip()
    m = _AGE.match(v)
    if m:
        return _finite(now - float(m.group(1)) * _UNIT[m.group(2)], what, value)
    try:
        return _finite(float(v), what, value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"cannot read {what} {value!r}: use ISO 8601 (2026-01-31), POSIX seconds or an age like 7d"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()
