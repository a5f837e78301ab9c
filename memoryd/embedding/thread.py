"""Text embeddings, offline, on one dedicated thread (ONNX Runtime or sentence-transformers).

torch used from several OS threads runs ~2x slower on small machines, and MCP/HTTP
servers call us from many threads: every encode is therefore submitted to a single
worker thread that owns the model. The model is loaded from a path (never a hub id)
with HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..config import EMBED_BACKENDS
from ..errors import ConfigError
from .base import SMALL_BATCH, cores
from .torch_backend import TorchRunner

__all__ = ["SentenceTransformerEmbedder"]

log = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """Loads the model once, on its worker thread; encode() is safe from any thread.

    backend "onnx" runs the exported graph with ONNX Runtime (embedding/onnx.py: same vectors,
    ~2.5x faster per query), "torch" runs sentence-transformers, "auto" tries ONNX and falls
    back to PyTorch (with a warning) when the model or the cache does not allow it."""

    def __init__(self, model_path: Path, *, name: str | None = None, max_seq_length: int = 256,
                 backend: str = "auto", cache_dir: Path | None = None):
        self.path = Path(model_path)
        if not self.path.is_dir():
            raise ConfigError(f"embedding model directory not found: {self.path}")
        if backend not in EMBED_BACKENDS:
            raise ConfigError(f"unknown embedding backend {backend!r}; use one of {', '.join(EMBED_BACKENDS)}")
        self.name = name or ("all-MiniLM-L6-v2" if self.path.name == "model" else self.path.name)
        self._max_seq = max_seq_length
        self.requested_backend = backend
        self.backend = ""  # the one in use, once loaded
        self.fallback_reason: str | None = None
        self._cache_dir = Path(cache_dir) if cache_dir else None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memoryd-embed")
        self._runner = None
        self._ready = threading.Event()
        self.dim = 0
        self._load_future = self._pool.submit(self._load)

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        runner = None
        if self.requested_backend in ("auto", "onnx"):
            try:
                runner = self._load_onnx()
            except Exception as exc:  # noqa: BLE001 - any failure: explain, or fall back
                if self.requested_backend == "onnx":
                    raise ConfigError(f"cannot run {self.path} with ONNX Runtime: {exc}") from exc
                self.fallback_reason = f"{type(exc).__name__}: {exc}"
                from .onnx import UnsupportedModel  # light: no onnxruntime import

                (log.info if isinstance(exc, UnsupportedModel) else log.warning)("embedding on PyTorch: ONNX not used (%s)",
                                                           self.fallback_reason)
        if runner is None:
            try:
                runner = TorchRunner(self.path, self._max_seq)
            except Exception as exc:  # noqa: BLE001 - any loader failure is a config problem
                raise ConfigError(f"cannot load embedding model from {self.path}: {exc}") from exc
        self._runner = runner
        self.backend = runner.backend
        self.dim = runner.dim
        self._ready.set()
        log.info("embedding model %s loaded (dim=%d, %s)", self.path, self.dim, self.backend)

    def _load_onnx(self):
        import onnxruntime  # noqa: F401 - fail before exporting anything when it is missing

        from . import onnx as eo

        eo._check_supported(self.path)
        if self._cache_dir is None:
            raise ConfigError("no cache directory for the exported graph")
        graph = eo.onnx_cache_path(self.path, self._cache_dir)
        if graph.exists():
            try:
                return eo.OnnxRunner(self.path, graph, max_seq_length=self._max_seq)
            except ConfigError as exc:  # a damaged file: export it again
                log.warning("%s; exporting again", exc)
                graph.unlink(missing_ok=True)
        eo.export_onnx(self.path, graph)
        return eo.OnnxRunner(self.path, graph, max_seq_length=self._max_seq)

    def wait_ready(self) -> "SentenceTransformerEmbedder":
        self._load_future.result()
        return self

    def _encode(self, texts: list[str], batch_size: int, progress) -> np.ndarray:
        assert self._runner is not None
        # A query or two: one intra-op thread. Splitting a tiny matmul over cores costs more in
        # synchronisation than it saves, and on a busy machine a second thread that is not
        # scheduled stalls the whole call (measured under load: p50 32 ms with 1 thread vs
        # 140-650 ms with 2). Bulk batches use every core (0: the backend's default).
        threads = 1 if len(texts) <= SMALL_BATCH else (cores() if self.backend == "onnx" else 0)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # sort by length so padding is minimal within a batch, then restore order
        order = np.argsort([-len(t) for t in texts], kind="stable")
        step = max(batch_size, 1) * 4
        for start in range(0, len(texts), step):
            idx = order[start : start + step]
            out[idx] = self._runner.encode([texts[i] for i in idx], batch_size, threads=threads)
            if progress is not None:
                progress(len(idx))
        return out

    def encode(self, texts, *, batch_size: int = 64, progress=None) -> np.ndarray:
        self.wait_ready()
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._pool.submit(self._encode, texts, batch_size, progress).result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
