"""What every `memoryd bench` repeats: a store in a temp (or given) folder, its figures
(DB size after a WAL checkpoint, peak RSS, latency percentiles), stand-in embedders, a
simulated clock, and `memoryd serve` subprocesses (shared with tests/mcp/mcp_helpers.py).

Benches reach the store only through the App and its services; this module does too.
"""

from __future__ import annotations

import hashlib
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import Settings
from ..search.bm25 import tokenize as bm25_tokenize

if TYPE_CHECKING:  # the MCP bench's agent processes import this module: keep it light
    from ..app import App
    from ..models import NewMemory

__all__ = [
    "CLI", "HashEmbedder", "NoEncodeEmbedder", "PrecomputedEmbedder", "Progress", "Server", "SimClock",
    "bench_home", "child_env", "fresh_settings", "free_port", "ingest", "memoryd_args", "peak_rss_mb",
    "percentiles", "recall_mrr", "start_http_server", "stop", "store_figures", "wait_listening",
]

Progress = Callable[[str, int, int], None]
CLI = "from memoryd.cli import main; main()"


# ---- the bench store ------------------------------------------------------------------------
@contextmanager
def bench_home(workdir: Path | None, prefix: str = "memoryd-bench-") -> Iterator[Path]:
    """`workdir` (created, kept), or a temp folder removed when the block ends."""
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        yield Path(workdir)
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def fresh_settings(settings: Settings | None, home: Path, db_name: str = "bench.db", *,
                   reuse: bool = False) -> Settings:
    """Settings on `home`/`db_name`; the database and its -wal/-shm files removed first
    unless `reuse` (a store built by an earlier run is then opened as it is)."""
    db = Path(home) / db_name
    if not reuse:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    return (settings or Settings.load()).with_(db_path=db, home=Path(home))


def ingest(app: App, items: Sequence[NewMemory], progress: Progress | None, *, chunk: int = 2048,
           stage: str = "ingest") -> float:
    """remember_many in chunks (the operator's batch path); returns the seconds it took."""
    t0 = time.perf_counter()
    for s in range(0, len(items), chunk):
        app.memories.remember_many(items[s : s + chunk])
        if progress:
            progress(stage, min(len(items), s + chunk), len(items))
    return time.perf_counter() - t0


def store_figures(app: App) -> dict[str, float]:
    """DB size once the WAL is checkpointed into it, and this process's peak RSS."""
    from ..services.maintenance import checkpoint

    checkpoint(app)
    return {"db_mb": round(app.settings.db_path.stat().st_size / 1e6, 1), "peak_rss_mb": peak_rss_mb()}


# ---- measurement ------------------------------------------------------------------------------
def percentiles(samples_ms: list[float]) -> dict[str, float]:
    if not samples_ms:
        return {"p50_ms": float("nan"), "p95_ms": float("nan")}
    s = sorted(samples_ms)
    p95 = s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]
    return {"p50_ms": round(statistics.median(s), 3), "p95_ms": round(p95, 3)}


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024, 1)


def recall_mrr(ranked_keys: list[list[str]], relevant: list[str], k: int = 5) -> dict[str, float]:
    hits = sum(1 for r, rel in zip(ranked_keys, relevant) if rel in r[:k])
    rr = [1.0 / (r.index(rel) + 1) if rel in r else 0.0 for r, rel in zip(ranked_keys, relevant)]
    n = max(len(relevant), 1)
    return {f"recall@{k}": round(hits / n, 4), "mrr": round(sum(rr) / n, 4)}


# ---- time and embedders -----------------------------------------------------------------------
@dataclass
class SimClock:
    """A clock the bench moves by hand (App(clock=...)): days of use in seconds."""

    now: float

    def __call__(self) -> float:
        return self.now


class PrecomputedEmbedder:
    """The real model, run in large batches ahead of time; encode() serves its vectors
    (a single-text encode costs ~100 ms on 2 shared cores)."""

    def __init__(self, inner):
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self._cache: dict[str, np.ndarray] = {}

    def warm(self, texts: Sequence[str], progress: Progress | None = None) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        for s in range(0, len(todo), 256):
            chunk = todo[s : s + 256]
            for t, v in zip(chunk, self.inner.encode(chunk, batch_size=64)):
                self._cache[t] = v
            if progress:
                progress("embed", min(len(todo), s + 256), len(todo))

    def encode(self, texts, *, batch_size: int = 64, progress=None) -> np.ndarray:
        self.warm([t for t in texts if t not in self._cache])
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def wait_ready(self):
        return self

    def close(self) -> None:
        pass


class HashEmbedder:
    """A fast stand-in for the sentence model, for scale runs only: each word gets a fixed
    pseudo-random unit vector (seeded by its hash), a text is the normalised sum of its
    words'. Texts sharing most words score high, as template-mates do with the real model;
    *recall figures from it mean nothing*."""

    name = "hash-bow-384"
    dim = 384

    def __init__(self) -> None:
        self._vocab: dict[str, np.ndarray] = {}

    def _vec(self, word: str) -> np.ndarray:
        v = self._vocab.get(word)
        if v is None:
            seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            self._vocab[word] = v
        return v

    def encode(self, texts, *, batch_size: int = 64, progress=None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)  # (n, dim)
        for i, t in enumerate(texts):
            for w in set(bm25_tokenize(t)):
                out[i] += self._vec(w)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return out

    def close(self) -> None:
        pass


class NoEncodeEmbedder:
    """Same name and dimension as the model (its stored vectors load), never encodes: for a
    process that searches with precomputed query vectors only."""

    def __init__(self, name: str, dim: int):
        self.name, self.dim = name, dim

    def encode(self, texts, **kw):  # pragma: no cover - not called
        raise RuntimeError("this process does not embed")

    def close(self) -> None:
        pass


# ---- `memoryd serve` subprocesses ---------------------------------------------------------------
def child_env(home: Path | None = None) -> dict[str, str]:
    """Environment of a memoryd child, offline. Without `home`: ours. With `home`: an explicit
    minimal one (nothing of ours leaks in) whose MEMORYD_HOME / MEMORYD_DB point there."""
    if home is None:
        env = dict(os.environ)
        for k, v in (("HF_HUB_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false"), ("FASTMCP_LOG_LEVEL", "WARNING")):
            env.setdefault(k, v)
        return env
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(home)),
        "MEMORYD_HOME": str(home),
        "MEMORYD_DB": str(home / "memoryd.db"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "FASTMCP_LOG_LEVEL": "WARNING",
    }


def memoryd_args(settings: Settings) -> list[str]:
    """The global options that point a `memoryd` child at these settings' store and model."""
    args = ["--db", str(settings.db_path), "--home", str(settings.home)]
    if settings.model_path is not None:
        args += ["--model", str(settings.model_path)]
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, log: Path, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server not listening after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


def start_http_server(args: Sequence[str], log: Path, env: dict[str, str]) -> Server:
    """Launch `memoryd [args] serve --http` on a free port, output to `log`; does not wait
    (see wait_listening)."""
    port = free_port()
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", CLI, *args, "serve", "--http", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
        )
    return Server(proc, port, log)
