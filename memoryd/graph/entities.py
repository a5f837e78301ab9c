"""A light, offline entity extractor for memory texts.

Regex heuristics only (no model, no network), tuned to be conservative: a
missed entity costs a little recall in the graph, a spurious one links
unrelated memories. Three passes over the text:

1. structural tokens in one alternation, leftmost-longest by position:
   ``url``, ``email``, ``path``, ``handle`` and ``code`` (calls ``foo()``,
   ``dotted.module.paths``, ``snake_case``, ``camelCase``, ``PascalCase``);
2. ``name``: runs of two or more Capitalised words, after dropping leading
   common words ("The", "Yesterday", "Thanks") and splitting at day/month names;
3. ``phrase``: runs of two or three lowercase content words ("vector search",
   "connection pool"); words that are stopwords, common verbs/adverbs, shorter
   than three letters or end in "-ly" break a run, and a trailing "-ed" word
   (usually a verb: "service crashed") is dropped.

Passes 2 and 3 read the text with pass-1 spans blanked out, so a path or a
class name never doubles as a name or a phrase.

Each entity has a ``key``: lowercase, trailing punctuation stripped (calls lose
their ``()``, urls their trailing ``/``, phrases get a naive singular), used to
match the same entity across memories. Results are deduplicated on
``(kind, key)`` in order of first appearance.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from memoryd.graph._lexicon import (
    CALENDAR_WORDS,
    COMMON_WORDS,
    FILE_EXTENSIONS,
    TLDS,
)

__all__ = ["Entity", "EntityKind", "ENTITY_KINDS", "extract_entities"]

EntityKind = Literal["code", "path", "url", "email", "name", "phrase", "handle"]
ENTITY_KINDS: tuple[EntityKind, ...] = (
    "code",
    "path",
    "url",
    "email",
    "name",
    "phrase",
    "handle",
)


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity mention: ``value`` as written (display), ``key`` for matching."""

    kind: EntityKind
    value: str
    key: str


_IDENT = r"[A-Za-z_]\w*"
_STRUCT = re.compile(
    rf"""
    (?P<url>\b(?:https?|ftp)://[^\s<>"'`]+|\bwww\.[^\s<>"'`]+)
  | (?P<email>\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{{2,}}\b)
  | (?P<winpath>\b[A-Za-z]:\\[^\s"'<>|*?]*)
  | (?P<relpath>(?<![\w/.~])(?:\.{{1,2}}|~)/[\w.\-/]*)
  | (?P<abspath>(?<![\w/.:~\\])/[A-Za-z_.][\w.\-]*(?:/[\w.\-]+)*/?)
  | (?P<segpath>\b[\w.\-]+(?:/[\w.\-]+)+/?)
  | (?P<handle>(?<![\w@.])@[A-Za-z0-9_](?:[\w.\-]*\w)?)
  | (?P<call>\b{_IDENT}(?:\.{_IDENT})*\((?=[^()\n]{{0,80}}\)))
  | (?P<dotted>\b{_IDENT}(?:\.{_IDENT})+\b)
  | (?P<snake>\b__[A-Za-z]\w*?__\b|\b_*[A-Za-z][A-Za-z0-9]*(?:_+[A-Za-z0-9]+)+_*\b)
  | (?P<camel>\b(?=[A-Za-z0-9]*(?:[a-z][A-Z]|[A-Z]{{2}}[a-z]{{2}}))[A-Za-z][A-Za-z0-9]{{3,}}\b)
    """,
    re.VERBOSE,
)

# whitespace tokens worth running _STRUCT on: a / \ @ _ ( , a dot inside a word, or mixed case
_CANDIDATE = re.compile(r"(?<!\S)\S*?(?:[/\\@_(]|\w\.\w|[a-z][A-Z]|[A-Z]{2}[a-z])\S*")
_NAME_WORD = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
_PARTICLE = r"(?:van|von|de|der|den|da|di|del|la|le|bin|al)"
_NAME = re.compile(rf"\b{_NAME_WORD}(?:[ ](?:{_PARTICLE}[ ])?{_NAME_WORD})+\b")
_WORD_RUN = re.compile(
    r"(?<![\w\-'/@#.])[a-z][a-z\-]*[a-z](?:[ ][a-z][a-z\-]*[a-z])+(?![\w\-'/@#]|\.\w)"
)
_TRAIL = ".,;:!?'\"`"
# _STRUCT may try a match at every word boundary of a token and run each to the token's end:
# time grows with the square of a token's length ("1.1.1..." of 32 KiB took 20 s), so a
# whitespace-free run longer than this is skipped (docs/security.md, "Input bounds")
MAX_TOKEN_CHARS = 512
_NUMERIC_SEGMENTS = re.compile(r"^[\d./\-]+$")


def _strip_trailing(s: str) -> str:
    s = s.rstrip(_TRAIL)
    while s and s[-1] in ")]}" and s.count(s[-1]) > s.count({")": "(", "]": "[", "}": "{"}[s[-1]]):
        s = s[:-1].rstrip(_TRAIL)
    return s


def _classify_struct(group: str, raw: str) -> tuple[EntityKind, str, str] | None:
    """Turn one pass-1 match into (kind, value, key), or None to drop it."""
    value = _strip_trailing(raw)
    if not value:
        return None
    low = value.lower()
    if group == "url":
        return ("url", value, low.rstrip("/"))
    if group == "email":
        return ("email", value, low)
    if group == "handle":
        return ("handle", value, low) if len(value) > 1 else None
    if group in ("winpath", "relpath", "abspath"):
        if len(value) < 2 or value in ("./", "../", "~/"):
            return None
        return ("path", value, low.rstrip("/\\") or low)
    if group == "segpath":
        if _NUMERIC_SEGMENTS.match(value):  # dates, fractions: 1/2, 12/03/2024
            return None
        last = value.rstrip("/").rsplit("/", 1)[-1]
        ext = last.rsplit(".", 1)[-1].lower() if "." in last else ""
        if ext in FILE_EXTENSIONS or value.count("/") >= 2 or value.endswith("/"):
            return ("path", value, low.rstrip("/"))
        return None  # "and/or", "input/output"
    if group == "call":
        return ("code", value + ")", low[:-1])
    if group == "dotted":
        parts = value.split(".")
        if len(parts) == 2 and min(len(p) for p in parts) == 1:  # e.g, i.e, a.m
            return None
        if parts[-1].lower() in FILE_EXTENSIONS:
            return ("path", value, low)
        if parts[-1].lower() in TLDS and all(p.isalpha() for p in parts):
            return ("url", value, low)  # bare domain: example.com
        return ("code", value, low)
    # snake / camel
    return ("code", value, low)


def _names(masked: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for m in _NAME.finditer(masked):
        words = m.group().split(" ")
        start = m.start()
        # split at calendar words; drop common words at the edges of each piece
        pieces: list[list[str]] = [[]]
        for w in words:
            if w.lower() in CALENDAR_WORDS:
                pieces.append([])
            else:
                pieces[-1].append(w)
        for piece in pieces:
            while piece and piece[0].lower() in COMMON_WORDS:
                piece.pop(0)
            while piece and piece[-1].lower() in COMMON_WORDS:
                piece.pop()
            if len([w for w in piece if w[0].isupper()]) >= 2:
                text = " ".join(piece)
                out.append((masked.find(text, start), text))
    return out


def _phrase_word_ok(w: str) -> bool:
    return len(w) >= 3 and w not in COMMON_WORDS and not w.endswith("ly") and not w.startswith("-")


def _head_ok(w: str) -> bool:
    # the last word is the head noun; "-ed" there is usually a verb ("service crashed")
    return not (w.endswith("ed") and not w.endswith("eed") and len(w) > 4)


def _singular(w: str) -> str:
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "ys")):
        return w[:-1]
    return w


def _phrases(masked: str) -> list[tuple[int, str, str]]:
    out: list[tuple[int, str, str]] = []
    for m in _WORD_RUN.finditer(masked):
        words = m.group().split(" ")
        pos = m.start()
        run: list[str] = []
        run_start = pos
        offsets: list[int] = []
        for w in words:
            offsets.append(pos)
            pos += len(w) + 1
        for i, w in enumerate(words + [""]):
            if w and _phrase_word_ok(w):
                if not run:
                    run_start = offsets[i]
                run.append(w)
                continue
            while run and not _head_ok(run[-1]):  # "rate limiting kicked" -> "rate limiting"
                run.pop()
            if 2 <= len(run) <= 3:
                value = " ".join(run)
                key = " ".join(run[:-1] + [_singular(run[-1])])
                out.append((run_start, value, key))
            run = []
    return out


def _struct_matches(text: str) -> Iterator[re.Match[str]]:
    """Pass-1 matches, scanning only whitespace tokens that could hold one.

    Running the big alternation over plain words is ~3x slower than this
    pre-filter; no pass-1 pattern spans whitespace (a call's argument
    lookahead may, hence the extended end for tokens with "(").
    """
    n = len(text)
    for cand in _CANDIDATE.finditer(text):
        start, end = cand.span()
        if end - start > MAX_TOKEN_CHARS:
            continue  # not an identifier, path or address worth a node; and quadratic to scan
        stop = min(n, end + 82) if "(" in cand.group() else end
        for m in _STRUCT.finditer(text, start, stop):
            if m.start() >= end:
                break
            yield m


def extract_entities(text: str) -> list[Entity]:
    """Extract code identifiers, paths, urls, emails, names, key phrases and @handles.

    Pure and offline; roughly 10k+ texts/s for ~200-character texts. Returns
    entities deduplicated on ``(kind, key)``, ordered by first appearance.
    """
    found: list[tuple[int, EntityKind, str, str]] = []
    pieces: list[str] = []
    last = 0
    for m in _struct_matches(text):
        group = m.lastgroup
        assert group is not None
        hit = _classify_struct(group, m.group())
        if hit is None:
            continue
        kind, value, key = hit
        found.append((m.start(), kind, value, key))
        pieces.append(text[last : m.start()])
        pieces.append("#" * (m.end() - m.start()))
        last = m.end()
    pieces.append(text[last:])
    masked = "".join(pieces)

    for start, value in _names(masked):
        found.append((start, "name", value, value.lower()))
    for start, value, key in _phrases(masked):
        found.append((start, "phrase", value, key))

    found.sort(key=lambda t: t[0])
    seen: set[tuple[str, str]] = set()
    out: list[Entity] = []
    for _, kind, value, key in found:
        if (kind, key) in seen:
            continue
        seen.add((kind, key))
        out.append(Entity(kind, value, key))
    return out
