"""Dates named in a query (pure): "on May 3, 2023", "in March 2023", "2023-05-03".

Recall uses the window as an extra, date-filtered candidate leg (services/memories/reads.py):
a question about a day or a month also looks among the memories stored then. Memories
logged from a conversation carry the conversation's date (`remember(created_at=...)`), and
a turn tells of its day in words ("last night", "last month"), so the window runs from the
named day (or month) to a while after it. A month without a year, a weekday or a relative
phrase ("last week") names no window: nothing to anchor it on.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = ["query_window", "DAY_BEFORE", "DAY_AFTER", "MONTH_AFTER"]

_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], start=1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})  # looked up by the first three letters
_MON = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_YEAR = r"((?:19|20)\d\d)"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"

_DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MON},?\s+{_YEAR}\b", re.I)
_MONTH_DAY_YEAR = re.compile(rf"\b{_MON}\s+{_DAY},?\s+{_YEAR}\b", re.I)
_ISO_DAY = re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b")
_MONTH_YEAR = re.compile(rf"\b{_MON},?\s+{_YEAR}\b", re.I)

DAY_BEFORE = timedelta(days=1)  # a turn logged the day before may already tell of it ("tomorrow")
DAY_AFTER = timedelta(days=8)  # ... and one a week later ("last Friday", "last week")
MONTH_AFTER = timedelta(days=31)  # a month's events are still told the month after ("last month")


def _day(y: int, m: int, d: int) -> tuple[datetime, datetime] | None:
    try:
        start = datetime(y, m, d, tzinfo=timezone.utc)
    except ValueError:
        return None
    return start - DAY_BEFORE, start + timedelta(days=1) + DAY_AFTER


def _month(y: int, m: int) -> tuple[datetime, datetime]:
    start = datetime(y, m, 1, tzinfo=timezone.utc)
    end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end + MONTH_AFTER


def query_window(query: str) -> tuple[float, float] | None:
    """(since, until) in POSIX seconds covering every calendar date the query names, or None
    when it names none. Several dates give one window from the earliest to the latest."""
    spans: list[tuple[datetime, datetime]] = []
    rest = query
    for pattern, order in ((_DAY_MONTH_YEAR, "dmy"), (_MONTH_DAY_YEAR, "mdy"), (_ISO_DAY, "iso")):
        for mt in pattern.finditer(rest):
            if order == "dmy":
                span = _day(int(mt.group(3)), _MONTHS[mt.group(2).lower()[:3]], int(mt.group(1)))
            elif order == "mdy":
                span = _day(int(mt.group(3)), _MONTHS[mt.group(1).lower()[:3]], int(mt.group(2)))
            else:
                span = _day(int(mt.group(1)), int(mt.group(2)), int(mt.group(3)))
            if span is not None:
                spans.append(span)
        rest = pattern.sub(" ", rest)  # a day's month and year are not a month mention too
    for mt in _MONTH_YEAR.finditer(rest):
        spans.append(_month(int(mt.group(2)), _MONTHS[mt.group(1).lower()[:3]]))
    if not spans:
        return None
    return min(s for s, _ in spans).timestamp(), max(e for _, e in spans).timestamp()
