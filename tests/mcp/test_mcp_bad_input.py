"""Bad input over MCP is a clear tool error, and the server keeps serving."""

from __future__ import annotations

from mcp_helpers import call, run_client

ULID_UNKNOWN = "01ZZZZZZZZZZZZZZZZZZZZZZZZ"

# (tool, arguments, words the error must contain)
CASES = [
    ("remember", {}, ["content", "missing"]),
    ("remember", {"content": 42}, ["content", "string"]),
    ("remember", {"content": "x" * 40_000}, ["40000 bytes", "limit"]),
    ("remember", {"content": "é" * 20_000}, ["bytes", "limit"]),  # 40,000 UTF-8 bytes in 20,000 chars
    ("remember", {"content": "   "}, ["empty"]),
    ("remember", {"content": "ok", "importance": 3}, ["importance", "less than or equal to 1"]),
    ("remember", {"content": "ok", "importance": "high"}, ["importance", "number"]),
    ("remember", {"content": "ok", "namespace": "../etc"}, ["invalid namespace"]),
    ("remember", {"content": "ok", "tags": "ops"}, ["tags"]),
    ("remember", {"content": "ok", "tags": ["has space"]}, ["invalid tag"]),
    ("remember", {"content": "ok", "agent_id": "mallory"}, ["agent_id", "unexpected"]),
    ("remember", {"content": "nul \x00 byte"}, ["NUL"]),
    ("recall", {}, ["query", "missing"]),
    ("recall", {"query": ""}, ["query is empty"]),
    ("recall", {"query": "x", "limit": 0}, ["limit", "greater than or equal to 1"]),
    ("recall", {"query": "x", "limit": 10_000}, ["limit", "less than or equal to 50"]),
    ("recall", {"query": "x", "since": "last tuesday"}, ["cannot read since"]),
    ("recall", {"query": "x", "namespaces": "infra"}, ["namespaces"]),
    ("get", {}, ["id", "missing"]),
    ("get", {"id": ULID_UNKNOWN}, ["no memory with id"]),
    ("get", {"id": "'; DROP TABLE memories; --"}, ["no memory with id"]),
    ("get", {"id": ["a"]}, ["id", "string"]),
    ("forget", {"id": ULID_UNKNOWN}, ["no memory with id"]),
    ("feedback", {"id": ULID_UNKNOWN, "verdict": "useful"}, ["no memory with id"]),
    ("feedback", {"id": ULID_UNKNOWN, "verdict": "great"}, ["verdict"]),
    ("list_recent", {"limit": -1}, ["limit"]),
    ("related", {"id": ULID_UNKNOWN}, ["no memory with id"]),
    ("communities", {"limit": "many"}, ["limit"]),
]

# hostile inputs on every tool: oversized fields, huge lists, wrong types
BIG = "x" * 100_000
HOSTILE = [
    ("remember", {"content": "ok", "source": BIG}, ["source", "at most 2048"]),
    ("remember", {"content": "ok", "kind": BIG}, ["kind", "at most 128"]),
    ("remember", {"content": "ok", "namespace": BIG}, ["namespace", "at most 128"]),
    ("remember", {"content": "ok", "tags": ["t"] * 1000}, ["tags", "at most 32"]),
    ("remember", {"content": "ok", "tags": [BIG]}, ["tags", "at most 64"]),
    ("remember", {"content": "ok", "tags": [1, 2]}, ["tags", "string"]),
    ("remember", {"content": "x" * 2_000_000}, ["content", "at most"]),
    ("recall", {"query": BIG}, ["query", "at most 8192"]),
    ("recall", {"query": "x", "namespaces": ["n"] * 10_000}, ["namespaces", "at most 64"]),
    ("recall", {"query": "x", "namespaces": [BIG]}, ["namespaces", "at most 128"]),
    ("recall", {"query": "x", "tags": ["t"] * 10_000}, ["tags", "at most 32"]),
    ("recall", {"query": "x", "agent": BIG}, ["agent", "at most 256"]),
    ("recall", {"query": "x", "kind": BIG}, ["kind", "at most 128"]),
    ("recall", {"query": "x", "since": BIG}, ["since", "at most 256"]),
    ("recall", {"query": "x", "expand": "very"}, ["expand", "bool"]),
    ("recall", {"query": {"$ne": 1}}, ["query", "string"]),
    ("get", {"id": BIG}, ["id", "at most 64"]),
    ("list_recent", {"limit": 10**9}, ["limit", "less than or equal to 100"]),
    ("list_recent", {"namespace": BIG}, ["namespace", "at most 128"]),
    ("list_recent", {"tags": ["t"] * 1000}, ["tags", "at most 32"]),
    ("list_recent", {"agent": ["a"]}, ["agent", "string"]),
    ("forget", {"id": BIG}, ["id", "at most 64"]),
    ("forget", {"id": None}, ["id", "string"]),
    ("erase", {"ids": ["01ZZZZZZZZZZZZZZZZZZZZZZZZ"] * 10_000}, ["ids", "at most 500"]),
    ("erase", {"ids": [BIG]}, ["ids", "at most 64"]),
    ("erase", {"subject": BIG}, ["subject", "at most 256"]),
    ("erase", {"ids": "01ZZZZZZZZZZZZZZZZZZZZZZZZ"}, ["ids", "list"]),
    ("erase", {"subject": "x", "confirm": "please"}, ["confirm", "bool"]),
    ("feedback", {"id": ULID_UNKNOWN, "verdict": "useful", "note": BIG}, ["note", "at most 2000"]),
    ("feedback", {"id": BIG, "verdict": "useful"}, ["id", "at most 64"]),
    ("related", {"id": BIG}, ["id", "at most 64"]),
    ("related", {"id": ULID_UNKNOWN, "limit": 10**6}, ["limit", "less than or equal to 50"]),
    ("communities", {"limit": 10**9}, ["limit", "less than or equal to 100"]),
    ("stats", {"agent": "mallory"}, ["agent", "unexpected"]),
]


def test_hostile_inputs_on_every_tool_are_tool_errors_and_the_server_keeps_serving(alice):
    from memoryd.mcp.tools import TOOL_NAMES

    assert {t for t, _, _ in HOSTILE} == set(TOOL_NAMES)  # every tool is attacked

    async def go(c):
        out = []
        for tool, args, _ in HOSTILE:
            res = await c.call_tool(tool, args, raise_on_error=False)
            out.append((res.is_error, res.content[0].text if res.content else ""))
        return out, await call(c, "remember", {"content": "Still serving after the hostile calls"})

    results, after = run_client(alice, go)
    for (tool, args, words), (is_error, text) in zip(HOSTILE, results):
        assert is_error, (tool, list(args))
        for w in words:
            assert w.lower() in text.lower(), (tool, list(args), text[:300])
        assert "Traceback" not in text and len(text) < 20_000, (tool, len(text))
    assert after["duplicate"] is False


def test_bad_input_is_a_clear_tool_error_and_the_server_keeps_serving(alice):
    async def go(c):
        first = await call(c, "remember", {"content": "Still here after the bad calls"})
        errors = []
        for tool, args, _ in CASES:
            res = await c.call_tool(tool, args, raise_on_error=False)
            errors.append((res.is_error, res.content[0].text if res.content else ""))
        unknown = await c.call_tool("no_such_tool", {}, raise_on_error=False)
        after = await call(c, "get", {"id": first["id"]})
        return errors, unknown, after, first

    errors, unknown, after, first = run_client(alice, go)
    for (tool, args, words), (is_error, text) in zip(CASES, errors):
        assert is_error, (tool, args)
        for w in words:
            assert w.lower() in text.lower(), (tool, args, text)
        assert "Traceback" not in text and "File \"" not in text, text
    assert unknown.is_error and "no_such_tool" in unknown.content[0].text
    assert after["id"] == first["id"]


def test_unexpected_errors_are_masked(app, alice, monkeypatch):
    """A bug inside a service gives a generic error, not internals; the next call works."""

    def boom(*a, **k):
        raise RuntimeError("secret internal detail /home/user/db")

    async def go(c):
        res = await c.call_tool("stats", {}, raise_on_error=False)
        monkeypatch.undo()
        ok = await call(c, "stats")
        return res, ok

    monkeypatch.setattr(app, "stats", boom)
    res, ok = run_client(alice, go)
    assert res.is_error and "secret" not in res.content[0].text and "stats" in res.content[0].text
    assert ok["agent"] == "alice"
