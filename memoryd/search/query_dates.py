"""Dates named in a query (pure): "on May 3, 2023", "in March 2023", "2023-05-03".

Recall uses the window as an extra, date-filtered candidate leg (services/memories/reads.py):
a question about a day or a month also looks among the memories stored then. Memories
logged from a conversation carry the conversation's date (`remember(created_at=...)`), and
a turn tells of its day in words ("last night", "last month"), so the window runs from the
named day (or month) to a while after it. A month without a year names no window.

Given `now` (the service's clock), relative phrases name a window too, anchored on it in the
machine's local time: "today", "yesterday" / "last night", "3 days ago", "last Friday" /
"on Friday", "this week" / "last week", "this month" / "last month", "this year" / "last
year". A live agent's memories are stored when they happen, so each window runs from the day
named to now. A replayed conversation's memories carry their own old dates, which such a
window never reaches: the leg then finds nothing and changes nothing.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo

__all__ = ["query_window", "relative_window", "DAY_BEFORE", "DAY_AFTER", "MONTH_AFTER"]

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


_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_NUMBERS = {w: i for i, w in enumerate(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"],
                                       start=1)}
_TODAY = re.compile(r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b", re.I)
_YESTERDAY = re.compile(r"\b(?:yesterday|last night)\b", re.I)
_DAYS_AGO = re.compile(r"\b(\d{1,2}|" + "|".join(_NUMBERS) + r"|a)\s+days?\s+ago\b", re.I)
_WEEKDAY = re.compile(r"\b(?:last|on|past)\s+(" + "|".join(_WEEKDAYS) + r")\b", re.I)
_PERIOD = re.compile(r"\b(this|last|past)\s+(week|month|year)\b", re.I)


def relative_window(query: str, now: float, tz: tzinfo | None = None) -> tuple[float, float] | None:
    """(since, until) in POSIX seconds from the relative phrases of `query`, anchored on `now`
    in `tz` (None: the machine's local time zone), or None when it has none. Each window runs
    from the start of the day, week, month or year named to `now` (plus a minute)."""
    here = datetime.fromtimestamp(now, tz=tz) if tz is not None else datetime.fromtimestamp(now).astimezone()
    today = here.replace(hour=0, minute=0, second=0, microsecond=0)
    starts: list[datetime] = []
    if _TODAY.search(query):
        starts.append(today)
    if _YESTERDAY.search(query):
        starts.append(today - timedelta(days=1))
    for mt in _DAYS_AGO.finditer(query):
        word = mt.group(1).lower()
        n = 1 if word == "a" else _NUMBERS.get(word) or int(word)
        if 0 < n <= 60:
            starts.append(today - timedelta(days=n + 1))  # "3 days ago" is told loosely: a day's slack
    for mt in _WEEKDAY.finditer(query):
        back = (today.weekday() - _WEEKDAYS.index(mt.group(1).lower())) % 7 or 7  # the last one before today
        starts.append(today - timedelta(days=back))
    for mt in _PERIOD.finditer(query):
        which, unit = mt.group(1).lower(), mt.group(2).lower()
        if unit == "week":
            starts.append(today - timedelta(days=7 if which == "this" else 14))
        elif unit == "month":
            first = today.replace(day=1)
            starts.append(first if which == "this" else (first - timedelta(days=1)).replace(day=1))
        else:
            first = today.replace(month=1, day=1)
            starts.append(first if which == "this" else first.replace(year=first.year - 1))
    if not starts:
        return None
    return min(starts).timestamp(), now + 60.0


def query_window(query: str, now: float | None = None, tz: tzinfo | None = None) -> tuple[float, float] | None:
    """(since, until) in POSIX seconds covering every calendar date the query names, or None
    when it names none. Several dates give one window from the earliest to the latest. A query
    with no calendar date but, given `now`, a relative phrase gets that phrase's window
    (`relative_window`): a calendar date is the more specific, and a replayed conversation's
    "last week" next to "May 2023" must not stretch May's window to today."""
    cal = _calendar_window(query)
    if cal is not None or now is None:
        return cal
    return relative_window(query, now, tz)


def _calendar_window(query: str) -> tuple[float, float] | None:
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
