"""`memoryd bench erase --gaps`: the cases issue 15 found, each checked by reading the raw
bytes of every file under the bench home (independently of memoryd's own verification).

The store (`--gaps-memories`, default 10k) is built with random unit vectors through
services.maintenance, as the subject part does (rows, FTS5 and the BM25 index are real text), then:

  metadata   people named only in a memory's source, tags and session id (the text itself
             names nobody), erased by name and by e-mail address
  forget     single `forget` calls on memories with canary tokens, timed one by one
  exports    a registered graph export (JSON) and a JSONL export present during an erasure
  short      short memories ("Bo Li: 555-1234"), erased by id
  reader     an erasure while another connection holds a read transaction (the WAL cannot
             be reset): it must stay incomplete, then finish once the reader is gone
  model      a tiny local model (built from a config, never downloaded) adapted on four
             profile memories, one of them erased: the STAMP edit runs as a job outside the
             lock; the receipt is incomplete until the edit is verified, then sealed

Every case reports the bytes of erased content still found (target: 0) and its timings.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..app import App
from ..config import Settings
from ..db import driver, read_snapshot
from ..erasure.models import ErasureRequest
from ..models import NewMemory, Provenance
from .erase_bench import DB_NAME, HOME_PREFIX, build_random_store
from .harness import bench_home, fresh_settings

__all__ = ["run_gaps_bench"]


def _found(home: Path, needles: list[str]) -> int:
    """Bytes of `needles` (case-insensitive) found in every file under `home`."""
    ns = {n.lower().encode("utf-8") for n in needles if n}
    total = 0
    for p in home.rglob("*"):
        if p.is_file():
            data = p.read_bytes().lower()
            total += sum(data.count(n) * len(n) for n in ns)
    return total


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)


def run_gaps_bench(
    n: int = 10_000,
    *,
    seed: int = 0,
    settings: Settings | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    workdir: Path | None = None,
    forgets: int = 20,
) -> dict[str, Any]:
    rng = random.Random(seed)
    out: dict[str, Any] = {"memories": n, "sqlite": driver.VERSION, "sqlite_module": driver.NAME,
                           "fts_secure_delete": driver.FTS_SECURE_DELETE}
    with bench_home(workdir, HOME_PREFIX) as home:
        st = fresh_settings(settings, home, DB_NAME)
        with App(st) as app:
            build_random_store(app, n, rng, [])
            out.update(_cases(app, st, home, rng, forgets, progress))
    out["erased_bytes_recoverable"] = sum(c.get("bytes_found", 0) for c in out.values() if isinstance(c, dict))
    return out


def _cases(app: App, st: Settings, home: Path, rng: random.Random, forgets: int, progress) -> dict[str, Any]:
    res: dict[str, Any] = {}
    step = 0

    def tick() -> None:
        nonlocal step
        step += 1
        if progress:
            progress("gaps", step, 6)

    def add(text: str, **kw) -> str:
        prov = Provenance(agent_id="bench", source=kw.pop("source", None), session_id=kw.pop("session", None))
        return app.memories.remember(NewMemory(text, provenance=prov, **kw)).memory.id

    # metadata: subjects named only outside the text
    people = [("Greta", "Holmqvist"), ("Tomasz", "Wierzbicki"), ("Ines", "Carvalho")]
    meta_needles = []
    for g, f in people:
        canary = f"CNYM{rng.randrange(16**8):08x}"
        add(f"prefers dark mode in the editor ({canary})", source=f"mail from {g.lower()}.{f.lower()}@example.org",
            tags=(f"{g.lower()}-{f.lower()}",), session=f"sess-{g[0].lower()}{f.lower()}-{rng.randrange(1000)}")
        meta_needles += [canary, f"{g.lower()}.{f.lower()}@example.org", f"{g.lower()}-{f.lower()}",
                         f"{g[0].lower()}{f.lower()}"]
    t = time.perf_counter()
    recs = [app.erasure.execute(ErasureRequest(subjects=(f"{g} {f}",) if i % 2 else
                                               (f"{g.lower()}.{f.lower()}@example.org",)), confirm=True)
            for i, (g, f) in enumerate(people)]
    res["metadata"] = {"subjects": len(people), "erased": sum(r.body["counts"].get("memories", 0) for r in recs),
                       "verified": sum(r.ok for r in recs), "ms_per_erasure": round(_ms(t) / len(people), 1),
                       "bytes_found": _found(home, meta_needles)}
    tick()

    # forget: one memory at a time, timed (delete + index cleanup + WAL truncation)
    canaries = [f"CNYF{rng.randrange(16**8):08x}" for _ in range(forgets)]
    ids = [add(f"note {c}: rotate the staging keys on Friday") for c in canaries]
    lat = []
    for i in ids:
        t = time.perf_counter()
        app.memories.forget(i)
        lat.append(_ms(t))
    res["forget"] = {"forgets": forgets, "ms_p50": round(statistics.median(lat), 2), "ms_max": max(lat),
                     "bytes_found": _found(home, canaries)}
    tick()

    # exports present during an erasure (graph JSON registered, JSONL registered)
    canary = f"CNYX{rng.randrange(16**8):08x}"
    ex_ids = [add(f"Harriet Okafor approved the {canary} budget line {k}") for k in range(3)]
    app.graph.rebuild()
    gpath = home / "outside" / "graph.json"
    gpath.parent.mkdir(exist_ok=True)
    app.erasure.track_file(gpath, "graph-json", lambda: app.graph.export(gpath, "json"))
    jpath = home / "outside" / "all.jsonl"
    app.erasure.write_export(jpath, "jsonl", lambda: list(app.memories.iter_all()),
                             lambda ms: "".join(json.dumps(m.to_dict()) + "\n" for m in ms))
    t = time.perf_counter()
    r = app.erasure.execute(ErasureRequest(subjects=("Harriet Okafor",)), confirm=True)
    res["exports"] = {"erased": r.body["counts"].get("memories", 0), "verified": r.ok, "ms": _ms(t),
                      "files": r.body["cleanup"].get("files", []),
                      "bytes_found": _found(home, [canary, *ex_ids])}
    tick()

    # short memories
    shorts = [f"Bo Li: 555-{rng.randrange(1000, 9999)}" for _ in range(5)]
    sids = [add(s) for s in shorts]
    t = time.perf_counter()
    r = app.erasure.execute(ErasureRequest(memory_ids=tuple(sids)), confirm=True)
    res["short"] = {"erased": r.body["counts"].get("memories", 0), "verified": r.ok, "ms": _ms(t),
                    "bytes_found": _found(home, shorts)}
    tick()

    # a reader holds a transaction: incomplete, then finished once it is gone
    canary = f"CNYR{rng.randrange(16**8):08x}"
    rid = add(f"Pavel Dvorak keeps the {canary} recovery codes")
    t = time.perf_counter()
    with read_snapshot(st.db_path):
        r = app.erasure.execute(ErasureRequest(memory_ids=(rid,)), confirm=True)
        first = r.body.get("status")
    listed = [x["status"] for x in app.erasure.receipts() if x["id"] == r.id]
    app.erasure.resume_pending()  # (the process's own retry may have finished it already)
    res["reader"] = {"first_status": first, "listed_while_reader_held": listed,
                     "after_reader_left": app.erasure.receipt(r.id).body.get("status"), "ms_total": _ms(t),
                     "bytes_found": _found(home, [canary])}
    tick()

    res["model"] = _model_case(app, home, rng)
    tick()
    return res


def _model_case(app: App, home: Path, rng: random.Random) -> dict[str, Any]:
    """Adapt a tiny model on four profiles, erase one: bytes left, edit verified, timings."""
    from ..editing.adapt import AdaptConfig  # torch, lazily
    from .unlearn.profiles import make_profiles, refusal_corpus
    from ..editing.tiny import TINY_TEST, build_tiny

    seed = rng.randrange(1000)
    texts = [p.text for p in make_profiles(4, seed=seed)]
    build_tiny([p.text for p in make_profiles(40, seed=seed + 1)[8:]] + refusal_corpus(1), home / "base-lm", TINY_TEST)
    ids = [app.memories.remember(NewMemory(t, namespace="people-lm")).memory.id for t in texts]
    t = time.perf_counter()
    v = app.models.adapt(home / "base-lm", home / "models" / "people-lm", namespace="people-lm",
                         config=AdaptConfig(max_epochs=200, lr=3e-3, batch_size=4, check_every=5, settle_epochs=5,
                                            warmup_steps=5))
    adapt_ms = _ms(t)
    victim = next((a["memory_id"] for a in v["absorbed"] if a["reproduced"]), ids[0])
    t = time.perf_counter()
    first = app.erasure.execute(ErasureRequest(memory_ids=(victim,)), confirm=True)
    returned_ms = _ms(t)
    app.models.wait_for_edits()
    receipt = app.erasure.receipt(first.id)
    notes = receipt.body.get("hooks", {}).get("ledger", {})
    edit = (notes.get("edits") or [{}])[0]
    return {"adapt_ms": adapt_ms, "erase_returned_ms": returned_ms, "first_status": first.body.get("status"),
            "sealed_ms": _ms(t), "status": receipt.body.get("status"), "verified": receipt.ok,
            "edit": edit.get("outcome"), "edit_verified": bool(edit.get("verification", {}).get("erased")),
            "job_files": notes.get("job_files"),
            "bytes_found": _found(home, [texts[ids.index(victim)], victim])}
