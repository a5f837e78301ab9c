"""Text embeddings with sentence-transformers, offline, on one dedicated thread.

torch used from several OS threads runs ~2x slower on small machines, and MCP/HTTP
servers call us from many threads: every encode is therefore submitted to a single
worker thread that owns the model. The model is loaded from a path (never a hub id)
with HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ConfigError

__all__ = ["Embedder", "SentenceTransformerEmbedder"]

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    dim: int

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:  # (n, dim) float32, L2-normalised
        ...

    def close(self) -> None: ...


SMALL_BATCH = 8  # at most this many texts: encode on a single torch thread


class SentenceTransformerEmbedder:
    """Loads the model once, on its worker thread; encode() is safe from any thread."""

    def __init__(self, model_path: Path, *, name: str | None = None, max_seq_length: int = 256):
        self.path = Path(model_path)
        if not self.path.is_dir():
            raise ConfigError(f"embedding model directory not found: {self.path}")
        self.name = name or ("all-MiniLM-L6-v2" if self.path.name == "model" else self.path.name)
        self._max_seq = max_seq_length
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memoryd-embed")
        self._model = None
        self._ready = threading.Event()
        self.dim = 0
        self._bulk_threads = 0  # torch's default, read on the worker thread at load
        self._load_future = self._pool.submit(self._load)

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.utils.logging.disable_progress_bar()
            transformers.utils.logging.set_verbosity_error()

            model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any loader failure is a config problem
            raise ConfigError(f"cannot load embedding model from {self.path}: {exc}") from exc
        model.max_seq_length = min(model.max_seq_length or self._max_seq, self._max_seq)
        import torch

        self._bulk_threads = torch.get_num_threads()
        self._model = model
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self._ready.set()
        log.info("embedding model %s loaded (dim=%d)", self.path, self.dim)

    def wait_ready(self) -> "SentenceTransformerEmbedder":
        self._load_future.result()
        return self

    def _encode(self, texts: list[str], batch_size: int, progress) -> np.ndarray:
        import torch

        assert self._model is not None
        # A query or two: one intra-op thread. Splitting a tiny matmul over cores costs more in
        # synchronisation than it saves, and on a busy machine a second thread that is not
        # scheduled stalls the whole call (measured under load: p50 32 ms with 1 thread vs
        # 140-650 ms with 2). Bulk batches use every thread torch would use by default.
        threads = 1 if len(texts) <= SMALL_BATCH else self._bulk_threads
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # sort by length so padding is minimal within a batch, then restore order
        order = np.argsort([-len(t) for t in texts], kind="stable")
        step = max(batch_size, 1) * 4
        done = 0
        with torch.inference_mode():
            for start in range(0, len(texts), step):
                idx = order[start : start + step]
                vecs = self._model.encode(
                    [texts[i] for i in idx],
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                out[idx] = vecs
                done += len(idx)
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
