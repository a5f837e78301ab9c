"""Text embeddings: one worker thread that owns the model, and its backends.

* :mod:`~memoryd.embedding.base`           the :class:`Embedder` protocol every embedder meets
* :mod:`~memoryd.embedding.thread`         :class:`SentenceTransformerEmbedder`: the worker
  thread; picks a runner (``auto``: ONNX, else PyTorch)
* :mod:`~memoryd.embedding.onnx`           export to ONNX, cache, :class:`OnnxRunner`
* :mod:`~memoryd.embedding.torch_backend`  sentence-transformers on PyTorch
* :mod:`~memoryd.embedding.static`         distil a static (model2vec) model

torch, transformers and onnxruntime are imported only inside the runners, on the worker
thread: importing this package stays light.
"""

from memoryd.embedding.base import SMALL_BATCH, Embedder
from memoryd.embedding.static import DistillReport, distill_static
from memoryd.embedding.thread import SentenceTransformerEmbedder

__all__ = ["Embedder", "SentenceTransformerEmbedder", "SMALL_BATCH", "DistillReport", "distill_static"]
