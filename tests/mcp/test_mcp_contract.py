"""The MCP contract: every tool's name, parameters, annotations and title, pinned.

Changing a tool's surface breaks the clients (and the prompts) built on it: if this test
fails, the change must be deliberate, documented in docs/mcp.md, and this file updated.
"""

from __future__ import annotations

from pathlib import Path

from mcp_helpers import run_client

from memoryd.mcp import TOOL_NAMES

STR, INT, NUM = "string", "integer", "number"
OPT_STR, OPT_LIST = "string|null", "string[]|null"

# name -> {param: (type, required, default)}
PARAMS = {
    "remember": {"content": (STR, True, None), "tags": (OPT_LIST, False, None), "namespace": (OPT_STR, False, None),
                 "importance": (NUM, False, 0.5), "source": (OPT_STR, False, None), "kind": (STR, False, "note"),
                 "session": (OPT_STR, False, None), "created_at": (OPT_STR, False, None),
                 "supersedes": (OPT_STR, False, None)},
    "recall": {"query": (STR, True, None), "limit": (INT, False, 10), "namespaces": (OPT_LIST, False, None),
               "tags": (OPT_LIST, False, None), "agent": (OPT_STR, False, None), "kind": (OPT_STR, False, None),
               "since": (OPT_STR, False, None), "until": (OPT_STR, False, None),
               "expand": ("boolean", False, False), "include_quarantined": ("boolean", False, False)},
    "get": {"id": (STR, True, None)},
    "list_recent": {"limit": (INT, False, 20), "namespace": (OPT_STR, False, None), "tags": (OPT_LIST, False, None),
                    "agent": (OPT_STR, False, None)},
    "forget": {"id": (STR, True, None)},
    "erase": {"ids": (OPT_LIST, False, None), "subject": (OPT_STR, False, None), "confirm": ("boolean", False, False)},
    "feedback": {"id": (STR, True, None), "verdict": ("useful|wrong|harmful", True, None),
                 "note": (OPT_STR, False, None)},
    "related": {"id": (STR, True, None), "limit": (INT, False, 10)},
    "communities": {"limit": (INT, False, 20)},
    "stats": {},
}

# name -> (title, readOnly, destructive, idempotent)
ANNOTATIONS = {
    "remember": ("Remember", False, False, True),
    "recall": ("Recall memories", True, False, True),
    "get": ("Get a memory", True, False, True),
    "list_recent": ("List recent memories", True, False, True),
    "forget": ("Forget a memory", False, True, True),
    "erase": ("Erase memories (GDPR)", False, True, False),
    "feedback": ("Give feedback on a memory", False, False, False),
    "related": ("Related memories", True, False, True),
    "communities": ("Memory communities", True, False, True),
    "stats": ("Memory statistics", True, False, True),
}

BOUNDS = {("remember", "importance"): (0.0, 1.0), ("recall", "limit"): (1, 50), ("list_recent", "limit"): (1, 100),
          ("related", "limit"): (1, 50), ("communities", "limit"): (1, 100)}


def _type(schema: dict) -> str:
    if "enum" in schema:
        return "|".join(schema["enum"])
    if "anyOf" in schema:
        return "|".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return _type(schema["items"]) + "[]"
    return schema["type"]


def _listing(server):
    async def go(c):
        return await c.list_tools(), await c.list_resources(), await c.list_resource_templates()

    return run_client(server, go)


def test_every_tool_is_pinned(alice):
    tools, resources, templates = _listing(alice)
    assert [t.name for t in tools] == list(TOOL_NAMES) == list(PARAMS)
    for t in tools:
        schema = t.input_schema
        props = schema.get("properties", {})
        got = {k: (_type(v), k in schema.get("required", []), v.get("default")) for k, v in props.items()}
        assert got == PARAMS[t.name], t.name
        assert schema.get("additionalProperties") is False, t.name  # unknown arguments are refused
        for (tool, param), (lo, hi) in BOUNDS.items():
            if tool == t.name:
                assert (props[param]["minimum"], props[param]["maximum"]) == (lo, hi)
        a = t.annotations
        assert (t.title, a.title, a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint) == (
            ANNOTATIONS[t.name][0], *ANNOTATIONS[t.name], False), t.name
        # written for the model that calls it: a real docstring and described parameters
        assert t.description and len(t.description.split()) >= 12, t.name
        assert all(p.get("description") for p in props.values()), t.name
        assert t.output_schema is not None and t.output_schema["type"] == "object", t.name
    assert [str(r.uri) for r in resources] == ["memory://stats"]
    assert [t.uri_template for t in templates] == ["memory://{id}"]


def test_destructive_tools_are_exactly_forget_and_erase(alice):
    tools, _, _ = _listing(alice)
    assert [t.name for t in tools if t.annotations.destructive_hint] == ["forget", "erase"]
    assert {t.name for t in tools if not t.annotations.read_only_hint} == {"remember", "forget", "erase", "feedback"}


def test_no_tool_lets_the_client_choose_its_identity(alice):
    """Provenance comes from the token / launch config: no tool takes an agent id to write as."""
    tools, _, _ = _listing(alice)
    writers = {t.name: t.input_schema.get("properties", {}) for t in tools if not t.annotations.read_only_hint}
    for name, props in writers.items():
        assert not {"agent", "agent_id", "session_id", "token"} & set(props), name


def test_docs_describe_every_tool():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "mcp.md").read_text()
    for name in TOOL_NAMES:
        assert f"`{name}`" in doc, name
    for phrase in ("memory://{id}", "memory://stats", "memoryd agents add", "memoryd mcp-config", "401"):
        assert phrase in doc, phrase
