"""`memoryd bench erase`: is erased content recoverable, and how fast is a subject erasure?

Two parts, sizes are parameters:

forensic (default 10k memories, 100 erasures), through the real path: the developer-notes
  corpus plus canary memories about synthetic people (each person is written about in
  several variant forms: "Given Family", "G. Family", "Family, Given", gfamily, e-mail)
  are ingested with real embeddings; an export is written (and registered); then randomized
  erasures run — by subject (name, e-mail or handle), by memory ids, by agent — each one
  verified by memoryd and then independently by this benchmark, which reads every file
  under the bench home and counts the bytes of erased canary content it can still find.

subject (default 100k memories): ingesting 100k memories through the model takes ~6 min
  here, so this store is built through services.maintenance with *precomputed random unit
  vectors* (same dim and model name; the text side — rows, FTS5, BM25 — is real). It then
  times a subject erasure end to end, while another thread and another process keep
  searching (the process with its own connection and RAM indexes), and reports
  the share of each cleanup step; a second erasure with VACUUM forced gives its share.
"""

from __future__ import annotations

import logging
import multiprocessing
import random
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..app import App
from ..config import Settings
from ..erasure.models import ErasureRequest
from ..models import NewMemory, Provenance
from ..services.maintenance import checkpoint, load_with_vectors
from ..services.memories import SearchOptions
from ..services.porting import export_jsonl
from .corpus import make_corpus
from .harness import NoEncodeEmbedder, Progress, bench_home, fresh_settings, peak_rss_mb, percentiles

__all__ = ["Person", "build_random_store", "make_people", "run_forensic_bench", "run_subject_bench"]

HOME_PREFIX = "memoryd-erase-bench-"
DB_NAME = "memoryd.db"

log = logging.getLogger(__name__)

_GIVEN = ("Zora Ilsabet Quenby Orlaith Tamsin Eskil Bronagh Ysolde Corwin Maelis Ottoline Faustyna "
          "Radomir Sunniva Idris Leocadia Thaddeus Wilhelmina Casimir Ondine").split()
_FAMILY = ("Kettleby Marchbanks Vorwerk Achterberg Szczygiel Quillfeather Ravensworth Dunmore "
           "Halvorsen Petrakova Lindqvist Okonkwo Castellanos Brannigan Vasquez-Roe Tiergarten").split()
_TEMPLATES = (
    "{gf} asked us to keep the onboarding notes for the {proj} rollout; her badge is {canary}.",
    "Met {ini} at the vendor review; {canary} is the reference number on the contract.",
    "Escalation from {rev} about invoice {canary}, see the thread with accounting.",
    "{handle} pushed the hotfix for {proj} (ticket {canary}).",
    "Send the signed DPA to {email} before Friday, case {canary}.",
    "{gf}'s home address moved, update HR record {canary}.",
)


@dataclass(frozen=True)
class Person:
    given: str
    family: str

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"

    @property
    def email(self) -> str:
        return f"{self.given.lower()}.{self.family.lower().replace('-', '')}@example.org"

    @property
    def handle(self) -> str:
        return "@" + (self.given[0] + self.family).lower().replace("-", "")


def make_people(n: int, seed: int) -> list[Person]:
    rng = random.Random(seed)
    pairs = [(g, f) for g in _GIVEN for f in _FAMILY]
    rng.shuffle(pairs)
    return [Person(g, f) for g, f in pairs[:n]]


def _canary_texts(p: Person, rng: random.Random, k: int) -> list[str]:
    out = []
    for t in rng.sample(_TEMPLATES, k):
        canary = f"CNY{rng.randrange(16**8):08x}{rng.randrange(16**4):04x}"
        out.append(t.format(gf=p.name, ini=f"{p.given[0]}. {p.family}", rev=f"{p.family}, {p.given}",
                            handle=p.handle[1:], email=p.email, canary=canary,
                            proj=rng.choice(["orion-ledger", "amber-portal", "kepler-relay"])))
    return out


def _recoverable_bytes(home: Path, texts: list[str]) -> tuple[int, int]:
    """Independent check: (bytes of erased canary content found, bytes read) in every file
    under `home`. Looks for each erased text and for its canary token."""
    needles = set()
    for t in texts:
        needles.add(t.encode("utf-8"))
        needles.update(m.encode() for m in re.findall(r"CNY[0-9a-f]{12}", t))
    found = read = 0
    for p in home.rglob("*"):
        if not p.is_file():
            continue
        data = p.read_bytes()
        read += len(data)
        found += sum(data.count(n) * len(n) for n in needles)
    return found, read


def run_forensic_bench(
    n: int = 10_000,
    *,
    erasures: int = 100,
    people: int = 60,
    seed: int = 0,
    workdir: Path | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> dict:
    out: dict = {"memories": n, "erasures": erasures}
    with bench_home(workdir, HOME_PREFIX) as home, App(fresh_settings(settings, home, DB_NAME)) as app:
        out.update(_forensic(app, home, n, erasures, people, random.Random(seed), seed, progress))
    return out


def _forensic(app: App, home: Path, n: int, erasures: int, people: int, rng: random.Random, seed: int,
              progress: Progress | None) -> dict:
    settings = app.settings
    out: dict = {}
    corpus = make_corpus(n, 0, seed)
    # most memories come from 4 busy agents; 12 small ones (~1% each) can be erased whole
    busy = [f"agent-{i}" for i in range(4)]
    agents = [f"scratch-{i}" for i in range(12)]

    def who() -> str:
        return rng.choice(agents) if rng.random() < 0.12 else rng.choice(busy)

    items = [NewMemory(d.text, tags=(d.topic,), namespace=d.project,
                       provenance=Provenance(agent_id=who(), tool="bench")) for d in corpus.docs]
    folks = make_people(people, seed)
    canaries: dict[str, list[str]] = {}
    for p in folks:
        texts = _canary_texts(p, rng, rng.randint(2, 4))
        canaries[p.name] = texts
        items += [NewMemory(t, namespace="people", provenance=Provenance(agent_id=who())) for t in texts]
    rng.shuffle(items)
    t0 = time.perf_counter()
    for s in range(0, len(items), 2048):
        app.memories.remember_many(items[s : s + 2048])
        if progress:
            progress("ingest", min(len(items), s + 2048), len(items))
    out["ingest_s"] = round(time.perf_counter() - t0, 1)
    out["memories"] = app.stats().memories
    settings.exports_dir.mkdir(parents=True, exist_ok=True)
    export_jsonl(app, settings.exports_dir / "all.jsonl")  # registered: erasures must rewrite it

    svc = app.erasure
    lat, ver_ms, erased_total, ok, leaked, scanned = [], [], 0, 0, 0, 0
    kinds: dict[str, int] = {}
    remaining = list(folks)
    for i in range(erasures):
        kind = rng.choice(["subject", "subject", "subject", "ids", "agent"]) if remaining else "ids"
        if kind == "subject":
            p = remaining.pop(rng.randrange(len(remaining)))
            ident = rng.choice([p.name, f"{p.family}, {p.given}", p.email, p.handle])
            req = ErasureRequest(subjects=(ident,))
        elif kind == "agent":
            req = ErasureRequest(agents=(agents.pop(rng.randrange(len(agents))),)) if len(agents) > 4 else None
            if req is None:
                kind = "ids"
        if kind == "ids":
            mems = app.memories.list(limit=200, offset=rng.randrange(max(1, app.stats().memories - 200)))
            req = ErasureRequest(memory_ids=tuple(m.id for m in rng.sample(mems, min(len(mems), rng.randint(1, 5)))))
        kinds[kind] = kinds.get(kind, 0) + 1
        plan = svc.plan(req)
        texts = [app.memories.get(it.memory_id).content for it in plan.items]
        t = time.perf_counter()
        receipt = svc.execute(plan, confirm=True)
        lat.append((time.perf_counter() - t) * 1000)
        ver_ms.append(receipt.body["timings_ms"].get("verify_ms", 0.0))
        erased_total += receipt.body["counts"]["memories"]
        ok += bool(receipt.ok)
        found, read = _recoverable_bytes(home, texts)
        leaked += found
        scanned += read
        if progress:
            progress("erasures", i + 1, erasures)
    out.update({
        "erasure_kinds": kinds,
        "memories_erased": erased_total,
        "receipts_verified_by_memoryd": f"{ok}/{erasures}",
        "independent_scan_bytes_read": scanned,
        "erased_bytes_recoverable": leaked,
        "memories_left": app.stats().memories,
        "erasure_ms": percentiles(lat),
        "of_which_verification_ms": percentiles(ver_ms),
        "audit_chain_ok": app.erasure.verify(receipt.id, scan=False).chain_ok if erasures else None,
        "db_mb": round(settings.db_path.stat().st_size / 1e6, 1),
        "peak_rss_mb": peak_rss_mb(),
    })
    return out


def build_random_store(app: App, n: int, rng: random.Random, extra: list[str]) -> None:
    """Rows, FTS and BM25 are real; vectors are random unit vectors (documented above),
    loaded without the embedder, the graph or trust (services.maintenance)."""
    corpus = make_corpus(n, 0, 0)
    texts = [d.text for d in corpus.docs] + extra
    order = list(range(len(texts)))
    rng.shuffle(order)
    nrng = np.random.default_rng(0)
    app.memories.embedder_ready()  # dim is known once the model has loaded
    name, dim = app.embedder.name, app.embedder.dim
    assert dim > 0
    for s in range(0, len(order), 5000):
        chunk = [texts[i] for i in order[s : s + 5000]]
        vecs = nrng.standard_normal((len(chunk), dim)).astype(np.float32)  # (m, d)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        load_with_vectors(app, [NewMemory(t, provenance=Provenance(agent_id="bench")) for t in chunk], vecs, name)
    checkpoint(app)


def _process_searcher(settings: Settings, name: str, dim: int, queries: list[str], qvecs: np.ndarray,
                      ready, stop, results) -> None:
    """Another process: its own connection and RAM indexes, searching until told to stop."""
    app = App(settings, embedder=NoEncodeEmbedder(name, dim))
    try:
        mem = app.memories
        mem.index  # noqa: B018 - load before timing
        ready.set()
        lat, errors, i = [], 0, 0
        while not stop.is_set():
            q = i % len(queries)
            t = time.perf_counter()
            try:
                mem.search(queries[q], opts=SearchOptions(limit=10, query_vector=qvecs[q]))
            except Exception:  # noqa: BLE001 - counted and reported
                errors += 1
            lat.append((time.perf_counter() - t) * 1000)
            i += 1
            time.sleep(0.005)
        results.put((lat, errors))
    finally:
        app.close()


def run_subject_bench(
    n: int = 100_000,
    *,
    seed: int = 0,
    workdir: Path | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> dict:
    out: dict = {"memories": n, "vectors": "random unit vectors (store built via the store layer)"}
    with bench_home(workdir, HOME_PREFIX) as home, App(fresh_settings(settings, home, DB_NAME)) as app:
        out.update(_subject(app, n, random.Random(seed), seed, progress))
    return out


def _subject(app: App, n: int, rng: random.Random, seed: int, progress: Progress | None) -> dict:
    settings = app.settings
    out: dict = {}
    folks = make_people(4, seed + 1)
    extra = []
    for p in folks:
        extra += _canary_texts(p, rng, 6) + _canary_texts(p, rng, 6)
    t0 = time.perf_counter()
    if progress:
        progress("build store", 0, 1)
    build_random_store(app, n, rng, extra)
    out["build_s"] = round(time.perf_counter() - t0, 1)
    out["db_mb"] = round(settings.db_path.stat().st_size / 1e6, 1)
    mem = app.memories
    mem.index  # load the RAM indexes before timing  # noqa: B018
    queries = [q.text for q in make_corpus(2000, 200, seed + 7).queries]
    qvecs = np.random.default_rng(1).standard_normal((len(queries), app.embedder.dim)).astype(np.float32)
    qvecs /= np.linalg.norm(qvecs, axis=1, keepdims=True)

    def searcher(stop: threading.Event, lat: list[float], errors: list[str]) -> None:
        i = 0
        while not stop.is_set():
            q = i % len(queries)
            t = time.perf_counter()
            try:
                mem.search(queries[q], opts=SearchOptions(limit=10, query_vector=qvecs[q]))
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(type(exc).__name__)
            lat.append((time.perf_counter() - t) * 1000)
            i += 1
            time.sleep(0.005)

    base: list[float] = []
    stop = threading.Event()
    th = threading.Thread(target=searcher, args=(stop, base, []))
    th.start()
    time.sleep(2.0)
    stop.set()
    th.join()
    out["search_alone_ms"] = percentiles(base)

    ctx = multiprocessing.get_context("spawn")
    for label, person, vacuum in (("subject_erasure", folks[0], "auto"), ("with_vacuum", folks[1], "always")):
        lat: list[float] = []
        errors: list[str] = []
        p_ready, p_stop, p_results = ctx.Event(), ctx.Event(), ctx.Queue()
        proc = ctx.Process(target=_process_searcher, args=(
            settings, app.embedder.name, app.embedder.dim, queries, qvecs, p_ready, p_stop, p_results))
        proc.start()
        p_ready.wait(timeout=300)
        stop = threading.Event()
        th = threading.Thread(target=searcher, args=(stop, lat, errors))
        th.start()
        time.sleep(0.3)
        t = time.perf_counter()
        plan = app.erasure.plan(ErasureRequest(subjects=(person.name,)))
        plan_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        receipt = app.erasure.execute(plan, confirm=True, vacuum=vacuum)
        exec_ms = (time.perf_counter() - t) * 1000
        stop.set()
        th.join()
        p_stop.set()
        p_lat, p_errors = p_results.get(timeout=120)
        proc.join(timeout=60)
        tm = receipt.body["timings_ms"]
        erase_ms = exec_ms - tm.get("verify_ms", 0.0)
        out[label] = {
            "memories_erased": receipt.body["counts"]["memories"],
            "plan_ms": round(plan_ms, 1),
            "erase_incl_secure_cleanup_ms": round(erase_ms, 1),
            "plan_plus_erase_ms": round(plan_ms + erase_ms, 1),
            "steps_ms": {k: v for k, v in tm.items() if k not in ("total_ms",)},
            "vacuum_share": f"{100 * tm.get('vacuum_ms', 0) / max(erase_ms, 1e-9):.0f}% of erase",
            "verification_ms": tm.get("verify_ms"),
            "verified": receipt.ok,
            "searches_during": {"thread": len(lat), "process": len(p_lat)},
            "search_errors": {"thread": len(errors), "process": p_errors},
            "search_during_ms": {
                "thread": {**percentiles(lat), "max_ms": round(max(lat), 1) if lat else None},
                "process": {**percentiles(p_lat), "max_ms": round(max(p_lat), 1) if p_lat else None},
            },
        }
        if progress:
            progress(label, 1, 1)
    out["peak_rss_mb"] = peak_rss_mb()
    return out

