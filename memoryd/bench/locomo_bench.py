"""`memoryd bench locomo`: the LoCoMo protocol (long multi-session conversations), no LLM.

Protocol (the data's README): every turn is one memory, ``"{speaker}: {text}"`` plus
`` [shares a photo: {blip_caption}]`` when the turn has a caption; one namespace per
conversation; each question (categories 1-4, with evidence turn ids) is searched in its own
conversation's namespace with default options, limit 10. hit@5: any evidence turn in the
first 5; recall@5: the share of its evidence turns in the first 5; MRR@10 by the first
evidence turn found. Reported overall and per category.

The turns are written the way a user's memory gets them: by default an agent stores them
one call at a time through ``MemoryService.remember`` (the path of the MCP ``remember``
tool, trust listeners included); ``writer="operator"`` imports them in one batch as the CLI
``add --jsonl`` does. Questions go through ``MemoryService.search``, the path of MCP ``recall``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..app import App
from ..config import Settings
from ..errors import ValidationError
from ..models import NewMemory, Provenance, SearchFilters
from ..services.memories import SearchOptions
from .harness import Progress, bench_home, fresh_settings, peak_rss_mb, percentiles

__all__ = ["CATEGORIES", "Turn", "Question", "load_locomo", "run_locomo_bench", "score_ranking"]

log = logging.getLogger(__name__)

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
_SESSION = re.compile(r"^session_(\d+)$")


@dataclass(frozen=True)
class Turn:
    conv: str
    dia_id: str
    session: str  # "conv-26/S3": turns are stored with it as their session id
    text: str  # the memory's content, as the protocol writes it
    created_at: float | None  # the session's date (plus the turn's index in seconds)


@dataclass(frozen=True)
class Question:
    conv: str
    text: str
    category: int
    evidence: tuple[str, ...]


def _session_time(value: str | None) -> float | None:
    """'1:56 pm on 8 May, 2023' -> POSIX seconds (UTC); None when absent or unreadable."""
    if not value:
        return None
    for fmt in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def load_locomo(path: Path) -> tuple[list[Turn], list[Question]]:
    """Turns and scored questions (categories 1-4 with evidence) of a LoCoMo JSON file."""
    path = Path(path)
    if path.is_dir():
        path = path / "locomo-dev.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(f"LoCoMo data not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, list):
        raise ValidationError(f"{path}: expected a list of conversations")
    turns: list[Turn] = []
    questions: list[Question] = []
    for i, sample in enumerate(data):
        conv_id = str(sample.get("sample_id") or f"conv-{i}")
        conv = sample.get("conversation") or {}
        sessions = sorted((int(m.group(1)), k) for k in conv if (m := _SESSION.match(k)))
        for num, key in sessions:
            t0 = _session_time(conv.get(f"{key}_date_time"))
            for j, turn in enumerate(conv.get(key) or []):
                text = f"{turn['speaker']}: {turn['text']}"
                if turn.get("blip_caption"):
                    text += f" [shares a photo: {turn['blip_caption']}]"
                turns.append(Turn(conv_id, str(turn["dia_id"]), f"{conv_id}/S{num}", text,
                                  None if t0 is None else t0 + j))
        for qa in sample.get("qa") or []:
            cat = int(qa.get("category", 0))
            ev = tuple(str(e) for e in qa.get("evidence") or ())
            if cat in CATEGORIES and ev:
                questions.append(Question(conv_id, str(qa["question"]), cat, ev))
    if not turns or not questions:
        raise ValidationError(f"{path}: no turns or no scored questions found")
    return turns, questions


def score_ranking(ranked: list[set[str]], evidence: tuple[str, ...]) -> tuple[float, float, float]:
    """(hit@5, recall@5, reciprocal rank within 10) of one question, from the dia ids of each
    ranked memory (a set: a turn repeated word for word, "Thanks!", is stored once)."""
    ev = set(evidence)
    top5 = set().union(*ranked[:5]) if ranked else set()
    hit = 1.0 if ev & top5 else 0.0
    rec = len(ev & top5) / len(ev)
    rr = next((1.0 / (r + 1) for r, d in enumerate(ranked[:10]) if d & ev), 0.0)
    return hit, rec, rr


def _namespace(conv: str) -> str:
    return "locomo-" + re.sub(r"[^A-Za-z0-9_.:\-]", "-", conv)


def run_locomo_bench(
    data: Path,
    *,
    writer: str = "agent",
    dates: bool = True,
    sessions: bool = True,
    workdir: Path | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> dict:
    """Ingest every turn, ask every scored question; figures per category and overall."""
    if writer not in ("agent", "operator"):
        raise ValidationError("writer must be 'agent' or 'operator'")
    turns, questions = load_locomo(data)
    out: dict = {"conversations": len({t.conv for t in turns}), "turns": len(turns), "questions": len(questions),
                 "writer": writer, "dates": dates, "sessions": sessions}
    with bench_home(workdir, "memoryd-locomo-") as home:
        settings = fresh_settings(settings, home, "locomo.db")
        agent, tool = ("locomo-agent", "mcp") if writer == "agent" else (settings.agent_id, "cli")
        items = [NewMemory(t.text, namespace=_namespace(t.conv), created_at=t.created_at if dates else None,
                           provenance=Provenance(agent_id=agent, tool=tool, session_id=t.session if sessions else None))
                 for t in turns]
        with App(settings) as app:
            app.embedder.encode(["warm up"])  # model load is not ingest
            t0 = time.perf_counter()
            dia_of: dict[str, set[str]] = defaultdict(set)
            if writer == "agent":
                for i, item in enumerate(items):
                    dia_of[app.memories.remember(item).memory.id].add(turns[i].dia_id)
                    if progress and (i % 50 == 0 or i == len(items) - 1):
                        progress("ingest (one call per turn)", i + 1, len(items))
            else:
                for i, res in enumerate(app.memories.remember_many(items)):
                    dia_of[res.memory.id].add(turns[i].dia_id)
            ingest_s = time.perf_counter() - t0
            out["ingest_per_s"] = round(len(items) / ingest_s, 1)
            app.memories.search("warm up", opts=SearchOptions(limit=10))

            per_cat: dict[int, list[tuple[float, float, float]]] = defaultdict(list)
            lat: list[float] = []
            for i, q in enumerate(questions):
                filters = SearchFilters(namespaces=(_namespace(q.conv),))
                t = time.perf_counter()
                hits = app.memories.search(q.text, filters, SearchOptions(limit=10))
                lat.append((time.perf_counter() - t) * 1000)
                ranked = [dia_of.get(h.memory.id, set()) for h in hits]
                per_cat[q.category].append(score_ranking(ranked, q.evidence))
                if progress and (i % 20 == 0 or i == len(questions) - 1):
                    progress("questions", i + 1, len(questions))

            def summary(rows: list[tuple[float, float, float]]) -> dict:
                n = max(len(rows), 1)
                return {"n": len(rows), "hit@5": round(sum(r[0] for r in rows) / n, 3),
                        "recall@5": round(sum(r[1] for r in rows) / n, 3), "mrr@10": round(sum(r[2] for r in rows) / n, 3)}

            out["overall"] = summary([r for rows in per_cat.values() for r in rows])
            out["categories"] = {CATEGORIES[c]: summary(per_cat[c]) for c in sorted(per_cat)}
            out["recall_latency"] = percentiles(lat)  # query embedding included
            out["quarantined"] = _count_quarantined(app)
            out["peak_rss_mb"] = peak_rss_mb()
    return out


def _count_quarantined(app: App) -> int | str:
    try:
        return len(app.trust.quarantined())
    except Exception as exc:  # the figure is informative only; the bench must not die on it
        log.info("could not count quarantined memories: %s", exc)
        return "unknown"
