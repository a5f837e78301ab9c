"""A conversation logged turn by turn over MCP, with its session and its time."""

from __future__ import annotations

from mcp_helpers import call, fail, run_client

TURNS = [
    "Maria: I started going to the gym with my sister again.",
    "John: Nice! Working out together is a great way of bonding as a family. How often do you go?",
    "Maria: Three times a week; it keeps us on track.",
    "John: I painted a sunrise over the lake last weekend.",
]


def test_turns_logged_with_session_and_date_are_recalled_by_the_question(app, alice):
    async def go(c):
        ids = []
        for i, t in enumerate(TURNS):
            r = await call(c, "remember", {"content": t, "namespace": "chat", "session": "2023-05-08",
                                           "created_at": f"2023-05-08T13:5{i}:00Z"})
            ids.append(r["id"])
        found = await call(c, "recall", {"query": "How often does Maria work out with her family?", "limit": 3})
        got = await call(c, "get", {"id": ids[2]})
        bad = await fail(c, "remember", {"content": "later", "created_at": "2999-01-01"})
        return ids, found, got, bad

    ids, found, got, bad = run_client(alice, go)
    assert [h["id"] for h in found["hits"]][:2].count(ids[2]) == 1
    hit = next(h for h in found["hits"] if h["id"] == ids[2])
    assert "turn before" in hit["why"]
    assert got["created_at"] == "2023-05-08T13:52:00Z" and got["provenance"]["session_id"] == "2023-05-08"
    assert "future" in bad
