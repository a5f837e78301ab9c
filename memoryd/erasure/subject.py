"""Who is the data subject? Parse an identifier and recognise it, with its usual variants,
in memory texts. Pure functions: no database, no model.

An identifier is one of
  email       alice.novak@example.com   the address; the mailbox name at any domain, as a
                                        @mention or alone; the name it spells ("alice.novak")
  handle      @anovak                   the @mention; the bare handle; the name it spells
  phone       +44 20 7946 0958          the digits with any separators; the national form
  name        Alice Novak, Novak, Alice "Alice Novak", "Alice M. Novak", "A. Novak",
                                        "Novak, Alice", "Novak A.", "Novak Alice",
                                        "alice.novak", "anovak", "alicenovak", "novak_alice"
  identifier  anything else             the literal, as a whole word
Matching ignores case and diacritics (Novák = Novak) on both sides.

Every rule is *strong* (the memory is erased) or *weak* (the memory is only listed in the
dry run as a near miss: a surname alone, a short bare handle, another given name with the
same initial). An initial form ("A. Novak") is demoted to weak when the store also names
someone else with that initial and surname ("Alicia Novak"): see `ambiguous_initial`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ..errors import ValidationError

__all__ = ["fold", "Rule", "Hit", "SubjectMatcher", "parse_subject", "SUBJECT_KINDS"]

SUBJECT_KINDS = ("email", "handle", "phone", "name", "identifier")

_SPECIAL = str.maketrans({
    "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae", "Æ": "AE",
    "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "Th", "ı": "i", "’": "'", "‘": "'",
})
_PARTICLES = frozenset("de da di du del della der den van von la le bin ibn al st ter ten dos das".split())
_GENERIC_LOCAL = frozenset(
    "info admin contact support hello mail office team sales noreply no-reply webmaster help"
    " billing security privacy jobs careers press root postmaster abuse service".split()
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HANDLE = re.compile(r"^@[\w.\-]+$", re.UNICODE)
_PHONE = re.compile(r"^\+?[\d\s().\-/]{7,}$")
_NAME = re.compile(r"^[^\W\d_][\w'\-.]*(?:[\s,]+[^\W\d_][\w'\-.]*)*$", re.UNICODE)
_SNIPPET = 40  # characters of context shown around a hit (dry run only)


def fold(text: str) -> str:
    """Strip diacritics and map a few special letters, keeping case: 'Nováková' -> 'Novakova'."""
    t = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    return "".join(c for c in t if not unicodedata.combining(c))


@dataclass(frozen=True)
class Rule:
    label: str  # why it matched, e.g. "initial + surname"
    pattern: re.Pattern[str]
    strong: bool
    initial_form: bool = False  # weakened when the initial is ambiguous


@dataclass(frozen=True)
class Hit:
    label: str
    snippet: str  # the matched text with a little context (shown in the dry run only)
    strong: bool


@dataclass(frozen=True)
class SubjectMatcher:
    identifier: str  # as given; lives in RAM for the request only
    kind: str
    rules: tuple[Rule, ...]
    fts_terms: tuple[str, ...]  # candidate look-up in the full-text index
    like_needles: tuple[str, ...] = ()  # candidate look-up by substring (literals)
    digit_needles: tuple[str, ...] = ()  # candidate look-up by digits, separators ignored (phones)
    embed_text: str = ""  # candidate look-up by meaning
    family: str | None = None  # folded, for the ambiguity check
    given: str | None = None
    _others: re.Pattern[str] | None = field(default=None, compare=False)

    def normalized(self) -> str:
        """Canonical form that is hashed into the receipt (never stored in clear):
        'Novak, Alice' and 'alice  NOVÁK' both give 'name:alice novak'."""
        if self.kind == "phone":
            return "phone:" + re.sub(r"\D", "", self.identifier)
        if self.kind == "name":
            given, middles, family = _name_parts(fold(self.identifier))
            words = ([given] if given else []) + middles + [family]
            return "name:" + " ".join(" ".join(words).casefold().split())
        return f"{self.kind}:" + " ".join(fold(self.identifier).casefold().split())

    def other_givens(self, text: str) -> set[str]:
        """Given names with the subject's initial written before the surname but different
        from the subject's ('Alicia Novak' for 'Alice Novak')."""
        if self._others is None or self.given is None:
            return set()
        out = set()
        for m in self._others.finditer(fold(text)):
            g = m.group(1).casefold()
            if g != self.given and len(g) > 1:
                out.add(g)
        return out

    def match(self, text: str, *, ambiguous_initial: bool = False) -> list[Hit]:
        t = fold(text)
        hits: list[Hit] = []
        seen: set[str] = set()
        for rule in self.rules:
            m = rule.pattern.search(t)
            if m is None or rule.label in seen:
                continue
            seen.add(rule.label)
            strong = rule.strong and not (rule.initial_form and ambiguous_initial)
            label = rule.label + (" (initial shared with another person: not erased)" if strong != rule.strong else "")
            a, b = max(0, m.start() - _SNIPPET), min(len(t), m.end() + _SNIPPET)
            snippet = ("…" if a else "") + t[a:b].replace("\n", " ") + ("…" if b < len(t) else "")
            hits.append(Hit(label, snippet, strong))
        return hits


def _w(p: str) -> str:
    """Whole-word wrapper."""
    return rf"(?<!\w){p}(?!\w)"


def _c(p: str) -> re.Pattern[str]:
    return re.compile(p, re.IGNORECASE | re.UNICODE)


def _specific(token: str) -> bool:
    """Is a bare handle / mailbox name distinctive enough to erase on its own?"""
    if token.casefold() in _GENERIC_LOCAL:
        return False
    return bool(re.search(r"[\d._\-]", token)) or len(token) >= 6


def _name_parts(raw: str) -> tuple[str | None, list[str], str]:
    """(given or None, middles, family) from 'Alice M. Novak', 'Novak, Alice', 'van der Berg'."""
    if "," in raw:
        fam, _, rest = raw.partition(",")
        words = rest.split()
        return (words[0] if words else None), words[1:], " ".join(fam.split())
    words = raw.split()
    if len(words) == 1:
        return None, [], words[0]
    i = len(words) - 1
    while i > 1 and words[i - 1].casefold() in _PARTICLES:
        i -= 1
    return words[0], words[1:i], " ".join(words[i:])


def _name_rules(given: str | None, middles: list[str], family: str, origin: str = "") -> list[Rule]:
    pre = f"{origin}: " if origin else ""
    fam = fold(family).strip(".")
    F = r"\s+".join(re.escape(p) for p in fam.split())
    fam_joined = re.escape(re.sub(r"[\s'\-]", "", fam))
    if given is None:  # a single word: the word itself is the identifier
        return [Rule(pre + "name", _c(_w(F)), True)]
    g = fold(given).strip(".")
    gi = re.escape(g[0])
    GI = rf"(?-i:{re.escape(g[0].upper())})"
    mid = r"(?:\s+(?-i:[A-Z])[\w'\-]*\.?){0,2}"  # optional capitalised middle names / initials
    rules: list[Rule] = []
    if len(g) > 1 and not g.endswith("."):
        G = re.escape(g)
        rules += [
            Rule(pre + "given name + surname", _c(_w(rf"{G}{mid}\s+{F}")), True),
            Rule(pre + "surname, given name", _c(_w(rf"{F}\s*,\s*{G}")), True),
            Rule(pre + "surname + given name", _c(_w(rf"{F}\s+{G}")), True),
        ]
        joined = [rf"{G}[._\-]?{fam_joined}", rf"{fam_joined}[._\-]?{G}"]
    else:
        joined = []
    # "A Novak" without the dot reads like the article: only "A. Novak" counts for A and I
    bare = "" if g[0].upper() in "AI" else rf"|{GI}\s"
    rules += [
        Rule(pre + "initial + surname", _c(_w(rf"(?:{gi}\.{bare})\s*{mid}\s*{F}")), True, initial_form=True),
        Rule(pre + "surname + initial", _c(_w(rf"{F},?\s+{GI}\.")), True, initial_form=True),
    ]
    joined += [rf"{gi}[._\-]?{fam_joined}", rf"{fam_joined}[._\-]{gi}"]
    rules.append(Rule(pre + "user name / e-mail form", _c(rf"(?<![\w])(?:{'|'.join(joined)})\d{{0,4}}(?!\w)"),
                      True, initial_form=False))
    rules.append(Rule(pre + "surname only", _c(_w(rf"{F}(?:'?s)?")), False))
    return rules


def _spelled_name(token: str) -> tuple[str, str] | None:
    """'alice.novak' / 'alice_novak' -> ('alice', 'novak')."""
    parts = [p for p in re.split(r"[._\-]+", token) if p]
    if 2 <= len(parts) <= 3 and all(p.isalpha() and len(p) >= 2 for p in parts):
        return parts[0], parts[-1]
    return None


def parse_subject(identifier: str) -> SubjectMatcher:
    raw = " ".join(str(identifier).split())
    if not raw or len(raw) > 256:
        raise ValidationError("a subject identifier must be 1 to 256 characters")
    f = fold(raw)

    if _EMAIL.match(raw):
        local, _, _domain = f.partition("@")
        rules = [Rule("e-mail address", _c(rf"(?<![\w.+\-]){re.escape(f)}(?![\w\-])"), True)]
        terms = [local]
        L = re.escape(local)
        strong_local = _specific(local)
        rules.append(Rule("same mailbox name at another domain", _c(rf"(?<![\w.+\-]){L}@"), strong_local))
        rules.append(Rule("@mention of the mailbox name", _c(rf"@{L}(?![\w\-])"), strong_local))
        rules.append(Rule("mailbox name alone", _c(rf"(?<![\w.@\-]){L}(?![\w@\-]|\.\w)"), strong_local))
        spelled = _spelled_name(local)
        if spelled:
            rules += _name_rules(spelled[0], [], spelled[1], origin="name spelled by the address")
            terms += list(spelled)
        return SubjectMatcher(raw, "email", tuple(rules), tuple(terms), like_needles=(f,),
                              embed_text=" ".join(spelled) if spelled else raw,
                              **_ambiguity(spelled[0] if spelled else None, spelled[1] if spelled else None))

    if _HANDLE.match(raw):
        h = f[1:]
        H = re.escape(h)
        rules = [Rule("@handle", _c(rf"@{H}(?![\w\-])"), True),
                 Rule("handle without @", _c(rf"(?<![\w.@\-]){H}(?![\w\-]|\.\w)"), _specific(h))]
        terms = [h]
        spelled = _spelled_name(h)
        if spelled:
            rules += _name_rules(spelled[0], [], spelled[1], origin="name spelled by the handle")
            terms += list(spelled)
        return SubjectMatcher(raw, "handle", tuple(rules), tuple(terms),
                              embed_text=" ".join(spelled) if spelled else h,
                              **_ambiguity(spelled[0] if spelled else None, spelled[1] if spelled else None))

    digits = re.sub(r"\D", "", raw)
    if _PHONE.match(raw) and len(digits) >= 7:
        sep = r"[\s().\-/]*"
        full = sep.join(re.escape(d) for d in digits)
        rules = [Rule("phone number", re.compile(rf"(?<!\d)\+?{full}(?!\d)"), True)]
        tails = [digits[k:] for k in (1, 2, 3) if len(digits) - k >= 8] if raw.startswith("+") else []
        if tails:  # national form: the number without its country code, maybe a trunk 0
            alt = "|".join(sep.join(re.escape(d) for d in t) for t in tails)
            rules.append(Rule("phone number (national form)",
                              re.compile(rf"(?<!\d)(?:\(?0\)?{sep})?(?:{alt})(?!\d)"), True))
        return SubjectMatcher(raw, "phone", tuple(rules), (), digit_needles=(digits[-7:],), embed_text="")

    if _NAME.match(f) and not any(ch.isdigit() for ch in f):
        given, middles, family = _name_parts(f)
        if given is not None and len(given.strip(".")) == 0:
            given = None
        rules = _name_rules(given, middles, family)
        fam = fold(family).casefold().strip(".")
        terms = fam.split() + [re.sub(r"[\s'\-]", "", fam)]
        if given and len(given.strip(".")) > 1:
            g = fold(given).casefold().strip(".")
            joined = re.sub(r"[\s'\-]", "", fam)
            terms += [g + joined, g[0] + joined, joined + g]
        return SubjectMatcher(raw, "name", tuple(rules), tuple(terms), embed_text=raw,
                              **_ambiguity(given, family))

    rules = [Rule("identifier", _c(rf"(?<![\w]){re.escape(f)}(?![\w])" if re.match(r"\w", f[0]) and re.search(r"\w$", f)
                               else re.escape(f)), True)]
    return SubjectMatcher(raw, "identifier", tuple(rules), tuple(re.findall(r"[^\W_]+", f.casefold())),
                          like_needles=(f,), embed_text=raw)


def _ambiguity(given: str | None, family: str | None) -> dict:
    if not given or not family or len(given.strip(".")) < 1:
        return {"family": None, "given": None, "_others": None}
    g = fold(given).strip(".").casefold()
    fam = fold(family).strip(".")
    F = r"\s+".join(re.escape(p) for p in fam.split())
    GI = rf"(?-i:{re.escape(g[0].upper())})"
    others = re.compile(rf"(?<!\w)({GI}[^\W\d_]+)\s+{F}(?!\w)", re.IGNORECASE | re.UNICODE)
    return {"family": fam.casefold(), "given": g if len(g) > 1 else None, "_others": others}
