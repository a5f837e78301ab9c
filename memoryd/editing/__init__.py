"""Model editing for memoryd: adaptation, STAMP erasure, verification (the only torch code
besides the embedder and the unlearning bench, memoryd/bench/unlearn).

    adapt_model / adapt_on_memories     fine-tune a local causal LM until it reproduces memories
    compute_stamp_delta                 closed-form STAMP edit (never mutates the model)
    apply_delta / revert_delta          W += ΔW, and back to bit-identical weights
    forget_in_model                     load -> edit -> save -> verify; a metrics-only report
    extraction_report / rouge_l_f1 / perplexity
    build_tiny / TinyConfig             small Llama + BPE tokenizer built locally (tests, bench)
    arch (layout table)                 the MLP out projection per family: Llama/Qwen2/Mistral, GPT-2, Phi
    shards (train_adapter / compose_routed)  the exact path: one LoRA adapter per shard, served routed
    routing / routed_edit / query       a routed model (one shard per input), STAMP on it, querying it

Import is cheap to reason about but not free: this package imports torch and transformers.
"""

from __future__ import annotations

from .adapt import AdaptConfig, AdaptResult, adapt_model
from .service import AdaptOutcome, ForgetReport, adapt_on_memories, forget_in_model
from .stamp import EditDelta, StampConfig, apply_delta, compute_stamp_delta, revert_delta
from .tiny import TINY_BENCH, TINY_LARGE, TINY_TEST, TinyConfig, build_tiny
from .verify import ExtractionReport, extraction_report, perplexity, rouge_l_f1

__all__ = [
    "AdaptConfig",
    "AdaptResult",
    "adapt_model",
    "AdaptOutcome",
    "adapt_on_memories",
    "StampConfig",
    "EditDelta",
    "compute_stamp_delta",
    "apply_delta",
    "revert_delta",
    "ForgetReport",
    "forget_in_model",
    "ExtractionReport",
    "extraction_report",
    "rouge_l_f1",
    "perplexity",
    "TinyConfig",
    "TINY_TEST",
    "TINY_BENCH",
    "TINY_LARGE",
    "build_tiny",
]
