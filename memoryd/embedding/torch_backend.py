"""sentence-transformers on PyTorch: the reference runner, and the fallback for any model.

Loaded and called only on the embedder's worker thread (:mod:`memoryd.embedding.thread`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["TorchRunner"]


class TorchRunner:
    backend = "torch"

    def __init__(self, path: Path, max_seq_length: int):
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        try:
            model.max_seq_length = min(model.max_seq_length or max_seq_length, max_seq_length)
        except AttributeError:  # static (bag-of-tokens) models have no sequence limit to set
            pass
        self._bulk_threads = torch.get_num_threads()  # torch's default, read on the worker thread
        self._model = model
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    def encode(self, texts: list[str], batch_size: int, *, threads: int) -> np.ndarray:
        import torch

        threads = threads or self._bulk_threads
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        with torch.inference_mode():
            return self._model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
