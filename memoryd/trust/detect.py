"""Content and write-pattern signals of memory poisoning (pure; no clock, no DB).

Content detectors (here) look only at the text (and, for query stuffing, queries the
caller passes in); write-pattern detectors (:mod:`~memoryd.trust.writes`, re-exported)
take statistics the service computed (recent write times, similarities to the author's
recent memories, a trusted neighbour). Each returns a :class:`Signal`:
the :class:`~memoryd.trust.evidence.EvidenceKind` it would be recorded as, a score in
[0, 1] and human-readable reasons that name patterns, never quote the text (reasons
end up in the evidence log, which outlives erasure).

Scores of several patterns combine by noisy-OR: ``1 - prod(1 - s_i)``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from . import _patterns as P
from .evidence import EvidenceKind
from .signals import DEFAULT_DETECT, EMPTY, ContentReport, DetectParams, Signal, make_signal, report_evidence
from .writes import deleted_soon, near_duplicate_flood, value_conflict, write_burst

__all__ = [
    "Signal",
    "ContentReport",
    "DetectParams",
    "DEFAULT_DETECT",
    "injection",
    "hidden_unicode",
    "trigger_instruction",
    "answer_planting",
    "query_stuffing",
    "scan_content",
    "write_burst",
    "near_duplicate_flood",
    "deleted_soon",
    "value_conflict",
    "report_evidence",
]

K = EvidenceKind


def _in_spans(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in spans)


# ---- content detectors ---------------------------------------------------------------------
def _prepare(text: str) -> tuple[str, frozenset[str]]:
    """(text the regexes read, the pattern needles present in it). Non-ASCII
    text is NFKC-folded with invisible code points removed, so 'ig\\u200bnore' or
    full-width letters cannot slip past the patterns (hidden_unicode reports them)."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", P.HIDDEN.sub("", text))
    return text, P.needles_in(P.normalise(text))


def _matches(table: P.PatternTable, clean: str, present: frozenset[str]) -> list[tuple[P.Pattern, re.Match[str]]]:
    if not present:
        return []
    out = []
    for pat in table:
        if not present.isdisjoint(pat.needles):
            m = pat.regex.search(clean)
            if m:
                out.append((pat, m))
    return out


def _injection(clean: str, present: frozenset[str], params: DetectParams) -> Signal:
    hits = {pat.name: pat.score for pat, _ in _matches(P.INJECTION, clean, present)}
    fmt = _matches(P.FORMAT_INJECTION, clean, present)
    if fmt:
        spans = [m.span() for m in P.CODE_SPAN.finditer(clean)] if "`" in clean else []
        for pat, _ in fmt:
            inside = all(_in_spans(m.start(), spans) for m in pat.regex.finditer(clean))
            hits[pat.name] = pat.score * (params.code_span_factor if inside else 1.0)
    if "ignore_previous" in hits:
        hits.pop("ignore_instructions", None)  # same phrase, counted once
    if "md_image_exfil" in hits:
        hits.pop("md_image_query", None)
    return make_signal(K.INJECTION_PATTERN, hits, "injection pattern")


def injection(text: str, params: DetectParams = DEFAULT_DETECT) -> Signal:
    """Prompt-injection phrasing and chat/tool-call format lookalikes."""
    return _injection(*_prepare(text), params)


def hidden_unicode(text: str, params: DetectParams = DEFAULT_DETECT) -> Signal:
    """Invisible or direction-changing characters: tag block (ASCII smuggling), bidi
    overrides (Trojan Source), zero-width characters inside words, variation-selector runs."""
    if text.isascii():
        return EMPTY[K.HIDDEN_UNICODE]
    if "\U0001f3f4" in text:
        text = P.FLAG_TAG_SEQUENCE.sub("\U0001f3f4", text)
    counts: dict[str, int] = {}
    n = len(text)
    for m in P.HIDDEN.finditer(text):
        group = m.lastgroup or ""
        i = m.start()
        if group == "zw" and i == 0 and text[0] == "\ufeff":
            continue  # byte-order mark at the start of a file
        if group == "joiner":
            prev, nxt = text[i - 1] if i else " ", text[i + 1] if i + 1 < n else " "
            if not (prev.isascii() and nxt.isascii()):
                continue  # emoji sequences, Indic/Persian shaping
        if group == "vs" and not (i and (text[i - 1].isascii() or "\ufe00" <= text[i - 1] <= "\ufe0e")):
            continue  # one selector after a symbol: its text/emoji presentation
        counts[group] = counts.get(group, 0) + 1
    if not counts:
        return EMPTY[K.HIDDEN_UNICODE]
    complex_script = bool(P.RTL_OR_COMPLEX_SCRIPT.search(text))
    hits: dict[str, float] = {}
    if counts.get("tag"):
        hits["tag_characters"] = 0.95
    if counts.get("bidi"):
        hits["bidi_controls"] = 0.8
    if counts.get("mark") and not complex_script:
        hits["direction_marks"] = 0.3
    zw = counts.get("zw", 0) + counts.get("joiner", 0)
    if zw:
        hits["zero_width"] = 0.2 if complex_script else min(0.9, 1.0 - 0.5**zw)
    if counts.get("vss", 0) >= 4 or counts.get("vs", 0) >= 3:
        hits["variation_selector_run"] = 0.85
    if not hits:
        return EMPTY[K.HIDDEN_UNICODE]
    sig = make_signal(K.HIDDEN_UNICODE, hits, "hidden unicode")
    detail = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    return Signal(sig.kind, sig.score, (*sig.reasons, f"invisible code points: {detail}"), sig.patterns)


_LOGS = re.compile(r"\b(?:logs?|output|stderr|stdout|stack\s*trace|traceback|console|ci|build)\b", re.IGNORECASE)


def _trigger_rarity(q: str, after: str) -> float:
    quoted = q[0] in "\"'“‘`«"
    core = q.strip("\"'“”‘’`«»")
    looks_error = (
        any(w in core.lower() for w in ("error", "exception", "fail", "warn", "timeout", "errno"))
        or (core.isupper() and core.replace("_", "").isalpha())
        or core.isdigit()
    )
    logs_context = bool(_LOGS.search(after, 0, 40))
    if looks_error or logs_context:
        return 0.35  # troubleshooting notes: "when you see ECONNRESET in the logs, rerun"
    has_digit, has_alpha = any(c.isdigit() for c in core), any(c.isalpha() for c in core)
    if quoted or (has_digit and has_alpha) or core.count("-") + core.count("_") >= 2:
        return 1.0
    return 0.3  # a plain word: "if the user mentions billing, ..."


def _trigger(clean: str, present: frozenset[str]) -> Signal:
    best: float = 0.0
    names: tuple[str, ...] = ()
    if present.isdisjoint(P.TRIGGER_NEEDLES):
        return EMPTY[K.TRIGGER_INSTRUCTION]
    for m in P.TRIGGER_CLAUSE.finditer(clean):
        after = clean[m.end() : m.end() + 300]
        rarity = _trigger_rarity(m.group("q"), after)
        behaviour = bool(P.DIRECTIVE_BEHAVIOUR.search(after))
        action = bool(P.DIRECTIVE_ACTION.search(after))
        dangerous = bool(P.DANGEROUS.search(after))
        directive = 0.9 if dangerous and (behaviour or action) else 0.65 if behaviour else 0.3 if action else 0.0
        parts = ["rare_trigger" if rarity >= 1 else "common_trigger"]
        parts += [p for p, on in (("behaviour", behaviour), ("action", action), ("dangerous", dangerous)) if on]
        score = rarity * directive if directive else 0.25 * rarity
        if score > best:
            best, names = score, tuple(parts)
    if best <= 0:
        return EMPTY[K.TRIGGER_INSTRUCTION]
    return Signal(
        K.TRIGGER_INSTRUCTION, round(best, 6), (f"trigger clause with {', '.join(names)} ({best:.2f})",), names
    )


def trigger_instruction(text: str, params: DetectParams = DEFAULT_DETECT) -> Signal:
    """A rare trigger phrase ("when you see 'xq-77'") attached to an instruction for whoever
    reads the memory; troubleshooting notes ("when you see ECONNRESET in the logs") stay low."""
    return _trigger(*_prepare(text))


def _answer(clean: str, present: frozenset[str]) -> Signal:
    hits = {pat.name: pat.score for pat, _ in _matches(P.ANSWER_PLANTING, clean, present)}
    if "always_answer_with" in hits:
        hits.pop("always_answer", None)
    return make_signal(K.ANSWER_PLANTING, hits, "answer planting")


def answer_planting(text: str, params: DetectParams = DEFAULT_DETECT) -> Signal:
    """Attempts to fix the reader's answer: "always answer X", "regardless of the sources"."""
    return _answer(*_prepare(text))


def _tokens(text: str) -> list[str]:
    return P.WORD.findall(text.lower())


def _stem(w: str) -> str:
    for suf in ("ing", "ed", "es", "s"):
        if len(w) > len(suf) + 2 and w.endswith(suf) and not w.endswith("ss"):
            return w[: -len(suf)]
    return w


def _content(tokens: Iterable[str]) -> list[str]:
    return [_stem(t) for t in tokens if t not in P.STOP and len(t) > 1]


def _is_question(sentence: str, toks: list[str]) -> bool:
    s = sentence.rstrip()
    return s.endswith("?") or (bool(toks) and toks[0] in P.QUESTION_WORDS and not s.endswith("."))


def query_stuffing(text: str, known_queries: Sequence[str] = (), params: DetectParams = DEFAULT_DETECT) -> Signal:
    """PoisonedRAG-style content: a copy of a question plus an assertion answering it.

    With ``known_queries`` (e.g. the query being answered at recall time), a verbatim copy
    of a query followed by more text scores 0.9. From the text alone, a leading question
    whose content words are restated by the following assertion scores 0.35-0.75.
    """
    if not known_queries and "?" not in text:
        head = text.lstrip()[:12].lower().split(" ", 1)[0].strip(":")
        if head not in P.QUESTION_WORDS and head != "q":
            return EMPTY[K.QUERY_STUFFING]  # fast path: no question, no query to compare
    toks = _tokens(text)
    if len(toks) < 6:
        return EMPTY[K.QUERY_STUFFING]
    joined = f" {' '.join(toks)} "
    hits: dict[str, float] = {}
    for q in known_queries:
        qt = _tokens(q)
        if len(qt) < params.query_min_tokens:
            continue
        if f" {' '.join(qt)} " in joined:
            hits["contains_query"] = max(hits.get("contains_query", 0.0), 0.9 if len(toks) - len(qt) >= 3 else 0.5)
    sentences = [s for s in P.SENTENCE_SPLIT.split(text.strip()) if s and s.strip()]
    for i, s in enumerate(sentences[:3]):
        st = _tokens(s)
        if st and st[0] == "q":  # "Q: ... A: ..."
            st = st[1:]
        if not _is_question(s, st):
            continue
        q_content = set(_content(st))
        rest = [t for later in sentences[i + 1 :] for t in _tokens(later)]
        if len(q_content) < params.question_min_content or len(rest) < 4:
            break
        restated = len(q_content & set(_content(rest))) / len(q_content)
        if restated >= params.restate_threshold:
            span = 1.0 - params.restate_threshold
            score = 0.35 + 0.4 * min(1.0, (restated - params.restate_threshold) / span)
            hits["question_restated"] = round(min(0.8, score + (0.05 if i == 0 else 0.0)), 6)
        break
    return make_signal(K.QUERY_STUFFING, hits, "query stuffing")


def scan_content(text: str, known_queries: Sequence[str] = (), params: DetectParams = DEFAULT_DETECT) -> ContentReport:
    """Every content detector on one text; only signals that fired, strongest first."""
    clean, present = _prepare(text)
    sigs = (
        _injection(clean, present, params),
        hidden_unicode(text, params),
        _trigger(clean, present),
        _answer(clean, present),
        query_stuffing(clean, known_queries, params),
    )
    return ContentReport(tuple(sorted((s for s in sigs if s.hit), key=lambda s: -s.score)))
