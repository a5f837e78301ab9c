"""`memoryd bench ui`: what the operator waits for in the web UI on a large store.

The store: N memories whose rows, full-text index and BM25 are real (texts from the bench
corpus) and whose stored vectors are random unit vectors (as `bench erase`'s subject run:
embedding 100k texts on a small machine takes most of an hour and does not change how long
a scan takes). Queries are embedded by the real model, in the page, as an operator's are.
Each figure is a whole HTTP request through the UI app (session check, search or list,
template rendering), measured in-process with Starlette's test client."""

from __future__ import annotations

import os
import random
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..app import App
from ..config import Settings
from ..ui import create_ui_app, load_or_create_token
from .corpus import make_corpus
from .erase_bench import build_random_store
from .harness import percentiles

__all__ = ["run_ui_bench"]


def run_ui_bench(n: int = 100_000, *, queries: int = 200, seed: int = 0, settings: Settings | None = None,
                 workdir: Path | None = None, progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    from starlette.testclient import TestClient

    tmp = None if workdir else tempfile.TemporaryDirectory(prefix="memoryd-ui-bench-")
    home = Path(workdir or tmp.name)
    home.mkdir(parents=True, exist_ok=True)
    base = settings or Settings.load()
    st = base.with_(home=home, db_path=home / "memoryd.db")
    rng = random.Random(seed)
    try:
        app = App(st)
        try:
            t0 = time.perf_counter()
            if progress:
                progress("building the store", 0, n)
            build_random_store(app, n, rng, [])
            build_s = time.perf_counter() - t0
            token = load_or_create_token(home)
            client = TestClient(create_ui_app(app, token), base_url="http://127.0.0.1")
            r = client.get(f"/ui/?token={token}", follow_redirects=False)
            client.cookies.set("memoryd_ui", r.cookies["memoryd_ui"], path="/ui")
            qs = [q.text for q in make_corpus(2000, queries, seed + 1).queries][:queries]
            client.get("/ui/memories", params={"q": "warm up the model and the indexes"})
            page_ms, search_ms = [], []
            for i, q in enumerate(qs):
                t = time.perf_counter()
                r = client.get("/ui/memories", params={"q": q})
                page_ms.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text[:300]
                m = re.search(r"search took ([0-9.]+) ms", r.text)
                search_ms.append(float(m.group(1)))
                if progress:
                    progress("searching in the page", i + 1, len(qs))
            lists = {}
            for label, params in (("list first page", {}), ("list page 100", {"page": 100}),
                                  ("list, namespace filter", {"namespace": "default"})):
                lat = []
                for _ in range(20):
                    t = time.perf_counter()
                    assert client.get("/ui/memories", params=params).status_code == 200
                    lat.append((time.perf_counter() - t) * 1000)
                lists[label] = percentiles(lat)
            mid = app.memories.list(limit=1)[0].id
            lat = []
            for _ in range(20):
                t = time.perf_counter()
                assert client.get(f"/ui/memory/{mid}").status_code == 200
                lat.append((time.perf_counter() - t) * 1000)
            lists["memory page"] = percentiles(lat)
            return {"memories": n, "queries": len(qs), "build_s": round(build_s, 1),
                    "search_page": percentiles(page_ms), "search_service_in_page": percentiles(search_ms),
                    "pages": lists, "load_average_1m": round(os.getloadavg()[0], 1), "cpus": os.cpu_count(),
                    "note": "whole request through the UI app: session check, hybrid search (query embedded by "
                            "the real model), template; stored vectors random (see the module docstring)"}
        finally:
            app.close()
    finally:
        if tmp is not None:
            tmp.cleanup()
