"""The tools' parameter vocabulary: bounds on every input (a bad value is a clear tool error
before any service runs) and the MCP annotations each tool carries."""

from __future__ import annotations

from typing import Annotated

from mcp_types import ToolAnnotations
from pydantic import Field

__all__ = ["tool_annotations", "MemoryId", "Tag", "Name", "Tags", "ShortText", "MAX_ID_CHARS", "MAX_NAME_CHARS",
           "MAX_TAG_CHARS", "MAX_TAGS", "MAX_NAMESPACES", "MAX_IDS", "MAX_SOURCE_CHARS", "MAX_QUERY_CHARS",
           "MAX_CONTENT_CHARS", "MAX_TEXT_CHARS"]


def tool_annotations(title: str, *, read_only: bool, destructive: bool = False, idempotent: bool = False) -> ToolAnnotations:
    return ToolAnnotations(
        title=title,
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=False,  # a local database, nothing outside it
    )


# bounds on every input: a bad value is a clear tool error before any service runs
MAX_ID_CHARS = 64
MAX_NAME_CHARS = 128  # namespaces, kinds (validation.py's rule)
MAX_TAG_CHARS = 64
MAX_TAGS = 32
MAX_NAMESPACES = 64
MAX_IDS = 500
MAX_SOURCE_CHARS = 2048
MAX_QUERY_CHARS = 8192
MAX_CONTENT_CHARS = 1_000_000  # the byte limit (32 KiB by default) is the service's
MAX_TEXT_CHARS = 256  # subjects, agent names, times

MemoryId = Annotated[str, Field(max_length=MAX_ID_CHARS, description="A memory id as returned by remember, recall or list_recent (26-character ULID).")]
Tag = Annotated[str, Field(max_length=MAX_TAG_CHARS)]
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]
Tags = Annotated[list[Tag] | None, Field(max_length=MAX_TAGS, description="Tags, e.g. ['deploy', 'postgres']: no spaces, at most 32.")]
ShortText = Annotated[str | None, Field(max_length=MAX_TEXT_CHARS)]
