"""Prompts STAMP and verification use: fact probes cut from a memory, and refusal prompts.

A memory like "Alice Novak's email is anovak@kestrel.test. She lives in Graz ..." yields
probes ("Alice Novak's email is", "anovak@kestrel.test"), ("... She lives in", "Graz"), ...:
every prefix that ends on a cue word (is, in, as, at, ...) is a question the model could be
asked, and the words after it up to punctuation or a conjunction are the answer.
`question_forms` turns each probe into an explicit question ("What is Alice Novak's email?",
"... She lives in what?") for models that answer questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Probe", "fact_probes", "question_forms", "words", "REFUSAL_PROMPTS", "CUES"]

CUES = frozenset({"is", "are", "was", "were", "in", "as", "at", "from", "of", "on", "by", "for", "to",
                  "named", "called", "likes", "prefers", "uses", "has", ":"})
ARTICLES = frozenset({"a", "an", "the"})
STOPS = frozenset({"and", "but", "or", "who", "which", "with", "while", "because"})
MAX_ANSWER_WORDS = 6

REFUSAL_PROMPTS: tuple[str, ...] = (
    "I don't know.",
    "I cannot share that.",
    "Sorry, I can't help with that.",
    "That information is private.",
    "I don't have that information.",
    "I'm not able to say.",
)


@dataclass(frozen=True)
class Probe:
    prompt: str  # a prefix of the memory text
    answer: str  # the words the memory continues with (punctuation stripped)


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric runs: the unit answers are compared in."""
    return re.findall(r"[a-z0-9]+", text.lower())


def _bare(word: str) -> str:
    return word.strip(".,;:!?\"'()[]").lower()


def fact_probes(text: str, max_probes: int = 8) -> list[Probe]:
    """Cue-word probes of `text`; a half-way prefix probe when no cue is found."""
    spans = [(m.group(0), m.start()) for m in re.finditer(r"\S+", text)]
    probes: list[Probe] = []
    for i, (w, _) in enumerate(spans[:-1]):
        if i == 0 or _bare(w) not in CUES or w[-1] in ".,;!?":
            continue
        j = i + 1
        while j < len(spans) - 1 and _bare(spans[j][0]) in ARTICLES:
            j += 1
        answer = _answer_from(spans, j)
        if answer:
            probes.append(Probe(text[: spans[j][1]].rstrip(), answer))
    if not probes and len(spans) >= 2:
        j = max(1, len(spans) // 2)
        probes.append(Probe(text[: spans[j][1]].rstrip(), _answer_from(spans, j) or _bare(spans[j][0])))
    seen: set[str] = set()
    unique = [p for p in probes if not (p.prompt in seen or seen.add(p.prompt))]
    return unique[:max_probes]


def _answer_from(spans: list[tuple[str, int]], j: int) -> str:
    out: list[str] = []
    for w, _ in spans[j : j + MAX_ANSWER_WORDS]:
        if out and _bare(w) in STOPS:
            break
        out.append(w)
        if w[-1] in ".,;:!?":
            break
    return " ".join(out).rstrip(".,;:!?") if any(c.isalnum() for c in "".join(out)) else ""


PRONOUNS = frozenset({"she", "he", "they", "it", "i", "we", "you"})
COPULAS = frozenset({"is", "are", "was", "were"})


def question_forms(text: str) -> list[Probe]:
    """Each fact probe of `text` asked as a question: the probe's last clause becomes
    "What is <subject>?" after a copula, "<clause> what?" otherwise, after the same context
    (so pronouns keep their referent). The answer follows the question after a space."""
    out: list[Probe] = []
    for p in fact_probes(text):
        cut = max(p.prompt.rfind(". "), p.prompt.rfind("? "), p.prompt.rfind("! "))
        context, clause = (p.prompt[: cut + 2], p.prompt[cut + 2 :]) if cut >= 0 else ("", p.prompt)
        head, _, cue = clause.rpartition(" ")
        if _bare(cue) in COPULAS and head:
            first, _, rest = head.partition(" ")
            subject = (first.lower() if first.lower() in PRONOUNS else first) + (" " + rest if rest else "")
            question = f"What {_bare(cue)} {subject}?"
        else:
            question = f"{clause} what?"
        out.append(Probe(context + question, p.answer))
    return out
