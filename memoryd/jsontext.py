"""Reading a JSON object from text a person or another program wrote (a client's config
file, a hook's stdin): one reader, with the caller's error class. Pure, no I/O."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["load_object"]


def load_object(text: str | None, error: type[Exception], *, what: str = "the file", hint: str = "") -> dict[str, Any]:
    """The object in `text`; {} for None or blank text. Anything else (bad JSON, an array, a
    string) raises `error` with a message naming `what`; `hint` is added to the JSON error."""
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno}){hint}") from None
    if not isinstance(data, dict):
        raise error(f"{what} does not hold a JSON object")
    return data
