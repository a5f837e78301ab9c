"""A query that names a day or a month also ranks the memories stored then
(search/query_dates.py, the `date` leg of services/memories/reads.py)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from memoryd.models import NewMemory, Provenance, SearchFilters
from memoryd.search.query_dates import query_window
from memoryd.services.memories import SearchOptions


def _day(s: str) -> str:
    return datetime.fromtimestamp(s, tz=timezone.utc).date().isoformat()


@pytest.mark.parametrize("query, since, until", [
    ("Who did Maria have dinner with on May 3, 2023?", "2023-05-02", "2023-05-12"),
    ("What did Gina find for her store on 1 February, 2023?", "2023-01-31", "2023-02-10"),
    ("what happened on the 3rd of June 2023", "2023-06-02", "2023-06-12"),
    ("deploy notes 2024-12-31", "2024-12-30", "2025-01-09"),
    ("What did John attend with his colleagues in March 2023?", "2023-03-01", "2023-05-02"),
    ("What did Maria donate in December 2023?", "2023-12-01", "2024-02-01"),
    ("Sept 5th, 2022 and later in Oct 2022", "2022-09-04", "2022-12-02"),
])
def test_query_window(query, since, until):
    got = query_window(query)
    assert got is not None and (_day(got[0]), _day(got[1])) == (since, until)


@pytest.mark.parametrize("query", ["When did Melanie go camping in June?", "what did we decide last week?",
                                   "31 February 2023", "the 2023 roadmap", "port 6432"])
def test_no_window_without_a_calendar_date(query):
    assert query_window(query) is None


NOW = datetime(2026, 12, 9, 15, 30, tzinfo=timezone.utc).timestamp()  # a Wednesday afternoon


@pytest.mark.parametrize("query, since", [
    ("what did we decide yesterday?", "2026-12-08"),
    ("what did I fix last night", "2026-12-08"),
    ("notes from today", "2026-12-09"),
    ("the bug from 3 days ago", "2026-12-05"),
    ("what broke two days ago", "2026-12-06"),
    ("the deploy last Friday", "2026-12-04"),
    ("what did we ship on Wednesday", "2026-12-02"),  # today is Wednesday: the one before
    ("what changed this week", "2026-12-02"),
    ("what did we decide last week?", "2026-11-25"),
    ("this month's incidents", "2026-12-01"),
    ("last month", "2026-11-01"),
    ("goals for this year", "2026-01-01"),
])
def test_relative_phrases_anchor_on_now(query, since):
    got = query_window(query, NOW, timezone.utc)
    assert got is not None and _day(got[0]) == since and NOW < got[1] <= NOW + 3600
    assert query_window(query) is None  # no clock, no anchor


def test_a_calendar_date_wins_over_a_relative_phrase():
    got = query_window("what did Maria do last week, in May 2023?", NOW, timezone.utc)
    assert (_day(got[0]), _day(got[1])) == ("2023-05-01", "2023-07-02")  # May's window, not stretched to now
    assert query_window("the last weekend of port 6432", NOW, timezone.utc) is None


def test_a_live_agents_question_about_yesterday_finds_yesterdays_memory_first(app):
    """Memories stored as they happen (no created_at): "yesterday" anchors on the clock."""
    now = time.time()
    texts = {d: f"We decided to move the payments deploy to {day} after the review." for d, day in
             [(1, "Friday"), (9, "Monday"), (20, "Tuesday"), (45, "Thursday"), (70, "Saturday")]}
    ids = {d: app.memories.remember(NewMemory(t, namespace="work", created_at=now - d * 86400 + 600)).memory.id
           for d, t in texts.items()}
    f = SearchFilters(namespaces=("work",))
    plain = [h.memory.id for h in app.memories.search("What did we decide about the payments deploy?", f,
                                                      SearchOptions(limit=5))]
    dated = app.memories.search("What did we decide yesterday about the payments deploy?", f, SearchOptions(limit=5))
    assert plain.index(ids[1]) >= 2  # the text alone ranks it below the alike ones
    assert dated[0].memory.id == ids[1] and "date" in dated[0].legs, (plain, [h.memory.id for h in dated])
    assert all("date" not in h.legs for h in dated[1:])  # only yesterday's is in the window


FRIENDS = ["Anna", "Bert", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hiro"]


def test_the_memory_stored_on_the_named_day_comes_first(app):
    ids = {}
    for i, name in enumerate(FRIENDS):
        when = datetime(2023, 1 + i, 14, 20, 0, tzinfo=timezone.utc).timestamp()
        m = app.memories.remember(NewMemory(f"Maria: {name} and I made dinner together last night, it was lovely.",
                                            namespace="chat", created_at=when,
                                            provenance=Provenance(agent_id="chat", session_id=f"c/S{i}"))).memory
        ids[1 + i] = m.id
    f = SearchFilters(namespaces=("chat",))
    plain = app.memories.search("Who did Maria have dinner with?", f, SearchOptions(limit=8))
    target = ids[6]  # stored on 14 June
    rank = [h.memory.id for h in plain].index(target)
    assert rank >= 3  # the text alone ranks it low (the eight texts are alike)
    dated = app.memories.search("Who did Maria have dinner with on June 13, 2023?", f, SearchOptions(limit=8))
    got = [h.memory.id for h in dated].index(target)
    assert got <= 1 and "date" in dated[got].legs and "stored around the date asked about" in dated[got].why
    assert all("date" not in h.legs for h in dated if h.memory.id != target)  # only June's is in the window
    # an explicit since/until is the caller's choice: no second window on top of it
    since = datetime(2023, 1, 1, tzinfo=timezone.utc).timestamp()
    ranged = app.memories.search("Who did Maria have dinner with on June 13, 2023?",
                                 SearchFilters(namespaces=("chat",), since=since), SearchOptions(limit=8))
    assert all("date" not in h.legs for h in ranged)
