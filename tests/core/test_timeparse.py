"""The one time parser both adapters call (memoryd/timeparse.py)."""

from __future__ import annotations

import pytest

from memoryd.errors import ValidationError
from memoryd.timeparse import parse_time

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("text", "expected"), [
    ("7d", NOW - 7 * 86400), ("30m", NOW - 1800), ("1.5h", NOW - 5400), ("2w", NOW - 14 * 86400),
    ("1700000000", 1_700_000_000.0), ("2026-01-31", 1_769_817_600.0),
    ("2026-01-31T12:00:00Z", 1_769_860_800.0), ("2026-01-31T13:00:00+01:00", 1_769_860_800.0),
    (None, None), ("  ", None),
])
def test_reads_ages_seconds_and_iso(text, expected):
    assert parse_time(text, now=NOW) == expected


def test_an_unreadable_time_is_a_validation_error_naming_the_field():
    with pytest.raises(ValidationError, match="cannot read since 'last tuesday'"):
        parse_time("last tuesday", now=NOW, what="since")


@pytest.mark.parametrize("text", ["1e400", "-1e400", "inf", "nan", "-Infinity", "9" * 400 + "d"])
def test_a_time_that_is_not_finite_is_a_validation_error(text):
    """float() reads these; as a filter bound they silently matched nothing (inf, nan: SQLite
    binds NaN as NULL) or everything, so a typo looked like an empty store."""
    with pytest.raises(ValidationError, match="until"):
        parse_time(text, now=NOW, what="until")
