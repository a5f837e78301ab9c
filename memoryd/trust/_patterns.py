"""Compiled pattern tables for :mod:`memoryd.trust.detect` (data, no logic).

Each entry is a :class:`Pattern` ``(name, score, regex, needles)``; the regex runs only
when one of its literal needles occurs in the normalised text (the fast path that keeps
ordinary notes at a few microseconds). Names are what evidence records and reasons carry
(never the matched text). Scores are calibrated so that one ordinary developer note that
merely *mentions* a topic stays low, and instructions aimed at the model reading the
memory score high; tests/trust/test_detect.py pins both sides.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "INJECTION",
    "FORMAT_INJECTION",
    "ANSWER_PLANTING",
    "TRIGGER_CLAUSE",
    "DIRECTIVE_BEHAVIOUR",
    "DIRECTIVE_ACTION",
    "DANGEROUS",
    "CODE_SPAN",
    "HIDDEN",
    "RTL_OR_COMPLEX_SCRIPT",
    "FLAG_TAG_SEQUENCE",
    "WORD",
    "SENTENCE_SPLIT",
    "STOP",
    "QUESTION_WORDS",
    "Pattern",
    "PatternTable",
    "normalise",
    "ALL_NEEDLES",
    "needles_in",
    "TRIGGER_NEEDLES",
]


class Pattern(NamedTuple):
    name: str  # what reasons and evidence details carry
    score: float
    regex: re.Pattern[str]
    needles: tuple[str, ...]  # the regex runs only if one of these is in the normalised text


PatternTable = tuple[Pattern, ...]
_I = re.IGNORECASE


def _p(name: str, score: float, needles: str | tuple[str, ...], *regex: str, flags: int = _I) -> Pattern:
    """``needles``: lower-case, single-spaced literals (see :func:`normalise`), '|'-separated or a tuple."""
    return Pattern(
        name,
        score,
        re.compile("".join(regex), flags),
        needles if isinstance(needles, tuple) else tuple(needles.split("|")),
    )


def normalise(text: str) -> str:
    """Lower-case, whitespace collapsed: what needles are looked up in."""
    return " ".join(text.lower().split())


_DET = r"(?:(?:all|any|the|your|my|of|these|those|every)\s+){0,3}"
_ADJ = r"(?:previous|prior|preceding|above|earlier|former|original|initial|system|existing|old)"
_NOUN = r"(?:instructions?|prompts?|directions?|guidelines|guardrails|rules|context|messages|commands|directives)"
_AI = r"(?:ai|assistant|llm|language\s+model|agent|model|chatbot|bot|copilot)"
_IGN = "ignore|disregard|forget"

# Natural-language instructions aimed at the model (counted wherever they appear).
INJECTION: PatternTable = (
    _p("ignore_previous", 0.9, _IGN, rf"\b(?:{_IGN})\s+{_DET}{_ADJ}\s+{_NOUN}\b"),
    _p(
        "ignore_instructions",
        0.7,
        _IGN,
        rf"\b(?:{_IGN})\s+{_DET}(?:instructions?|prompts?|directions?|guidelines|guardrails)\b",
    ),
    _p("forget_everything", 0.6, "forget", r"\bforget\s+(?:everything|all)\s+(?:you|that|above|before)\b"),
    _p(
        "override_safety",
        0.8,
        "bypass|override|circumvent|disable",
        r"\b(?:bypass|override|circumvent|disable)\s+(?:your\s+|the\s+|all\s+|any\s+)?",
        r"(?:safety\s+(?:guidelines|rules|filters?|restrictions)|guardrails|system\s+prompt",
        r"|content\s+(?:filters?|polic(?:y|ies))|restrictions|instructions)\b",
    ),
    _p(
        "you_are_now",
        0.4,
        "you are now",
        r"\byou\s+are\s+now\s+(?:a|an|no\s+longer|free|unrestricted|jailbroken|operating\s+as|acting\s+as|my",
        r"|in\s+developer)\b",
    ),
    _p(
        "new_instructions",
        0.7,
        "instruction",
        r"\b(?:new|updated|real|actual|true|hidden|secret|additional)\s+(?:system\s+)?instructions?\s*(?::|-|are\b)",
    ),
    _p("system_line", 0.5, "system", r"^\s*(?:#+\s*|\[)?system\s*(?:\]|:)", flags=_I | re.MULTILINE),
    _p("system_prompt", 0.3, "system prompt", r"\bsystem\s+prompt\b"),
    _p(
        "reveal_prompt",
        0.85,
        "prompt|instruction",
        r"\b(?:reveal|print|show|output|repeat|leak|dump|display|disclose)\s+(?:me\s+)?(?:your|the)\s+",
        r"(?:full\s+|entire\s+|hidden\s+|original\s+|initial\s+)?",
        r"(?:system\s+prompt|initial\s+prompt|instructions|hidden\s+instructions)\b",
    ),
    _p(
        "address_the_ai",
        0.7,
        "attention|note|important|message|instruction|if you are|dear|hey",
        rf"\b(?:attention|note|important|message|instructions?)\s*(?:to|for)\s*(?:the\s+|all\s+|any\s+)?{_AI}s?\b",
        rf"|\bif\s+you\s+are\s+an?\s+{_AI}\b|\b(?:dear|hey)\s+{_AI}\b",
    ),
    _p("ai_must", 0.6, "you must|you should|you will", rf"\b(?:as\s+an?\s+)?{_AI}\s*,\s*you\s+(?:must|should|will)\b"),
    _p(
        "conceal_from_user",
        0.75,
        "without|keep|tell|inform|alert|notify",
        r"\b(?:without\s+(?:telling|informing|notifying|alerting)\s+(?:the\s+)?(?:user|human|operator)",
        r"|keep\s+(?:this|it|these\s+instructions)\s+(?:secret|hidden)\s+from",
        r"|(?:do\s+not|don't|never)\s+(?:tell|inform|alert|notify)\s+(?:the\s+)?(?:user|human|operator)\s+",
        r"(?:about|that|of)\s+(?:this|these|it|the(?:se)?\s+instructions?))\b",
    ),
    _p(
        "jailbreak",
        0.5,
        "anything now|developer mode|jailbr|god mode",
        r"\b(?:do\s+anything\s+now|developer\s+mode\s+(?:enabled|on)|jailbr(?:oken|eak\s+mode)|god\s+mode)\b",
    ),
    _p("pretend", 0.35, "pretend", r"\bpretend\s+(?:to\s+be|you\s+are|that\s+you)\b"),
    _p(
        "exfiltrate",
        0.7,
        "http|@",
        r"\b(?:send|post|upload|forward|transmit|exfiltrate|leak|email)\b[^.\n]{0,60}?",
        r"\b(?:api[\s_-]?keys?|passwords?|credentials|secrets?|tokens?|private\s+keys?|ssh\s+keys?",
        r"|env(?:ironment)?\s+variables|conversation|chat\s+history|user\s+data)\b",
        r"[^.\n]{0,60}?\b(?:to|at)\s+(?:https?://|[\w.+-]+@[\w-]+\.)",
    ),
    _p(
        "md_image_exfil",
        0.8,
        "![",
        r"!\[[^\]\n]{0,200}\]\(\s*<?https?://[^)\s]+\?[^)\s]*",
        r"(?:\{|\}|\$|%7b|<|\[|(?:data|secret|token|key|session|chat|conv|history|msg|content|leak|exfil|q|d|p)=)",
    ),
    _p("md_image_query", 0.35, "![", r"!\[[^\]\n]{0,200}\]\(\s*<?https?://[^)\s]+\?[^)\s]*="),
    _p("html_img_query", 0.5, "<img", r"<img\b[^>]*\bsrc\s*=\s*['\"]?https?://[^'\" >]+\?[^'\" >]*="),
)

# Lookalikes of chat templates and tool-call formats: discounted inside `code` (people document them).
FORMAT_INJECTION: PatternTable = (
    _p(
        "chat_template",
        0.85,
        ("<|", "inst]", "<<sys", "<</sys"),
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\|>",
        r"|\[/?INST\]|<</?SYS>>",
    ),
    _p(
        "tool_call_tag",
        0.85,
        "tool_|function_call|invoke|antml:",
        r"</?(?:tool_call|tool_calls|tool_use|tool_result|function_call|function_calls|invoke|antml:[a-z_]+)\b[^>\n]{0,200}>",
    ),
    _p(
        "json_tool_call",
        0.7,
        '"name"|"tool"|"function"|"tool_name"|"arguments"|"parameters"|"args"',
        r"\{\s*\"(?:name|tool|function|tool_name)\"\s*:\s*\"[^\"\n]{1,80}\"\s*,\s*",
        r"\"(?:arguments|parameters|args|input)\"\s*:\s*[\{\"\[]",
        r"|\{\s*\"(?:arguments|parameters|args)\"\s*:\s*\{[^{}\n]{0,300}\}\s*,\s*\"(?:name|tool|function)\"\s*:\s*\"",
    ),
    _p("json_tool_calls_key", 0.6, '"tool_calls"|"function_call"', r"\"(?:tool_calls|function_call)\"\s*:\s*[\[{]"),
)

_TELL = r"(?:answer|respond|reply|say|state|claim|tell\s+(?:the\s+)?(?:user|them|everyone|people))"
ANSWER_PLANTING: PatternTable = (
    _p(
        "always_answer_with",
        0.75,
        "always|only|must",
        rf"\b(?:always|only|must|should\s+always)\s+{_TELL}\s*(?:with\b|that\b|:|\"|'|“)",
    ),
    _p(
        "always_answer",
        0.35,
        "always|only",
        rf"\b(?:always|only)\s+{_TELL}\b",
        r"(?!\s+(?:in\s+(?:english|json|markdown|\w+\s+format)|with\s+(?:json|markdown|code)|concisely|briefly|politely))",
    ),
    _p(
        "correct_answer_is",
        0.5,
        "answer",
        r"\b(?:the\s+)?(?:correct|right|true|real|only|official|definitive)\s+answer\s+(?:to\s+[^.\n]{1,120}?\s+)?is\b",
    ),
    _p(
        "regardless",
        0.7,
        "regardless",
        r"\bregardless\s+of\s+(?:the\s+|what\s+|any\s+)?(?:question|query|context|evidence|sources?|documents?|memories",
        r"|what\s+(?:the\s+)?(?:user|question|documents?|sources?|memories)\s+says?)\b",
    ),
    _p(
        "if_asked_say",
        0.6,
        "ask",
        r"\b(?:if|when(?:ever)?)\s+(?:you\s+are\s+|you're\s+|anyone\s+|someone\s+|the\s+user\s+|a\s+user\s+)?ask(?:s|ed)?\b",
        r"[^.\n]{0,120}?,?\s*(?:always\s+|just\s+|simply\s+|you\s+(?:must|should)\s+)?",
        r"(?:say|answer|respond|reply|tell\s+them|state)\b",
    ),
    _p(
        "ignore_other_sources",
        0.8,
        "ignore|disregard|contradict|override|distrust",
        r"\b(?:ignore|disregard|contradict|override|distrust)\s+(?:any|all|other|every)\s+(?:other\s+)?",
        r"(?:sources?|documents?|memories|evidence|information|search\s+results)\b",
    ),
    _p(
        "never_admit",
        0.5,
        "never|not|don't",
        r"\b(?:never|do\s+not|don't)\s+(?:mention|admit|reveal|acknowledge)\s+that\b",
    ),
)

# "when you see 'xyzzy-42'", "if the user mentions the phrase ..." -> group 'q' is the trigger.
TRIGGER_CLAUSE = re.compile(
    r"\b(?:when(?:ever)?|if|once|as\s+soon\s+as)\s+(?:you\s+|the\s+(?:user|query|prompt|request|message|input|question|"
    r"conversation|text)\s+|someone\s+|anyone\s+|a\s+user\s+)?(?:see|sees|read|reads|encounter|encounters|hear|hears|receive|"
    r"receives|mention|mentions|mentioned|say|says|said|type|types|ask(?:s|ed)?\s+about|contain|contains|include|includes|"
    r"use|uses)\s+(?:the\s+|a\s+)?(?:(?:secret\s+|magic\s+|special\s+|trigger\s+)?(?:word|phrase|term|keyword|token|"
    r"code\s*word|string|password|passphrase|text)\s+)?(?P<q>[\"'“‘`«][^\"'”’`»\n]{2,60}[\"'”’`»]|[A-Za-z0-9][\w\-]{3,40})",
    _I,
)
TRIGGER_NEEDLES = ("when", "if ", "once", "as soon")
# Every needle of every table, longest first; checking them all with `in` is ~10 us per note.
ALL_NEEDLES: tuple[str, ...] = tuple(
    sorted(
        {n for t in (INJECTION, FORMAT_INJECTION, ANSWER_PLANTING) for p in t for n in p.needles} | set(TRIGGER_NEEDLES)
    )
)


def needles_in(low: str) -> frozenset[str]:
    return frozenset([n for n in ALL_NEEDLES if n in low])


DIRECTIVE_BEHAVIOUR = re.compile(
    r"\b(?:always|you\s+must|you\s+should|make\s+sure\s+to|be\s+sure\s+to|instead|respond|reply|answer|say|output|"
    r"tell\s+(?:the\s+)?(?:user|them)|recommend|claim|pretend|switch\s+to|ignore|disregard|reveal)\b",
    _I,
)
DIRECTIVE_ACTION = re.compile(
    r"\b(?:execute|run|call|invoke|send|open|visit|navigate|download|install|delete|remove|transfer|approve|grant|disable|"
    r"print|return|post|upload|forward)\b",
    _I,
)
DANGEROUS = re.compile(
    r"(?:curl|wget|iwr)\s+[^\n]{0,80}https?://|\|\s*(?:ba|z|da)?sh\b|\brm\s+-rf\b|\bbase64\s+(?:-d|--decode)\b|"
    r"\bpowershell\b|\binvoke-expression\b|\beval\s*\(|\bexec\s*\(|\btransfer\s+(?:\$|funds|money|\d)|\bwire\s+\$|"
    r"\b(?:api[\s_-]?keys?|passwords?|credentials?|private\s+keys?|seed\s+phrase|card\s+numbers?|cvv|ssn|"
    r"social\s+security)\b|\bhttps?://\S+",
    _I,
)

CODE_SPAN = re.compile(r"```.*?(?:```|\Z)|`[^`\n]+`", re.DOTALL)

# Invisible / direction-changing code points (checked only when the text is not ASCII).
HIDDEN = re.compile(
    "(?P<tag>[\U000e0000-\U000e007f])"
    "|(?P<bidi>[\u202a-\u202e\u2066-\u2069])"
    "|(?P<mark>[\u200e\u200f\u061c])"
    "|(?P<zw>[\u200b\u2060-\u2064\u180e\ufeff])"
    "|(?P<joiner>[\u200c\u200d])"
    "|(?P<vss>[\U000e0100-\U000e01ef])"
    "|(?P<vs>[\ufe00-\ufe0e])"
)
RTL_OR_COMPLEX_SCRIPT = re.compile(
    "[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff\u0900-\u0dff\u0e00-\u0fff\u1000-\u109f\u1780-\u17ff"
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
)
# Subdivision flags (England, Scotland, Wales) are black flag + tag letters + cancel tag: legitimate.
FLAG_TAG_SEQUENCE = re.compile("\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{1,7}\U000e007f")

WORD = re.compile(r"[a-z0-9]+(?:['._-][a-z0-9]+)*")
SENTENCE_SPLIT = re.compile(r"(?<=[?!.])\s+|\n+|(?<=\?)(?=\S)")
QUESTION_WORDS = frozenset(
    "what who whom whose which when where why how is are was were does do did can could should would will "
    "whats what's hows who's".split()
)
STOP = frozenset(
    """a an the of to in on at for from by with and or but if then than as is are was were be been being do does did
    it its this that these those there here we you i he she they them our your my his her their me us not no so
    what who whom whose which when where why how can could should would will shall may might must about into over
    after before under up down out off again just also very too any all each some such only own same more most other
    has have had having q a: s t re ve ll d m""".split()
)
