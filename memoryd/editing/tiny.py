"""Small Llama-style causal LMs and byte-level BPE tokenizers, built locally from configs.

Nothing here downloads anything: the tokenizer is trained with the `tokenizers` library on
the texts you pass, the model is initialised from a `LlamaConfig` with a seed, and both are
written with `save_pretrained` so `AutoModelForCausalLM.from_pretrained(path)` and
`AutoTokenizer.from_pretrained(path)` load them back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

__all__ = ["TinyConfig", "TINY_TEST", "TINY_BENCH", "TINY_LARGE", "FAMILIES", "train_tokenizer", "build_model",
           "build_family", "build_tiny"]

log = logging.getLogger(__name__)

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"


@dataclass(frozen=True)
class TinyConfig:
    """Shape of a small Llama. `vocab_size` is the BPE target; the real size may be smaller."""

    vocab_size: int = 2048
    hidden_size: int = 64
    intermediate_size: int = 256  # the MLP key dimension STAMP edits
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 4
    max_position_embeddings: int = 256
    tie_word_embeddings: bool = False
    seed: int = 0


TINY_TEST = TinyConfig(vocab_size=1024, hidden_size=128, intermediate_size=512, num_hidden_layers=2)  # ~0.7M
TINY_BENCH = TinyConfig(vocab_size=2048, hidden_size=384, intermediate_size=1536, num_hidden_layers=4,
                        num_attention_heads=6, num_key_value_heads=6)  # ~10M with a ~900-token vocab
TINY_LARGE = TinyConfig(vocab_size=2048, hidden_size=512, intermediate_size=2048, num_hidden_layers=6,
                        num_attention_heads=8, num_key_value_heads=8)  # ~26M, the top of the bench's range


def train_tokenizer(texts: Sequence[str], vocab_size: int = 2048, *, min_frequency: int = 1) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on `texts`; every encoding starts with <bos>; pad/eos set."""
    if not texts:
        raise ValueError("train_tokenizer needs at least one text")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS)
    fast.padding_side = "left"  # generation batches are left-padded
    assert fast.pad_token_id == 0 and fast.bos_token_id == 1 and fast.eos_token_id == 2
    log.debug("trained BPE tokenizer: %d tokens", len(fast))
    return fast


def build_model(cfg: TinyConfig, vocab_size: int, *, dtype: torch.dtype = torch.float32) -> LlamaForCausalLM:
    """A randomly initialised LlamaForCausalLM; deterministic for a given `cfg.seed`."""
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        max_position_embeddings=cfg.max_position_embeddings,
        tie_word_embeddings=cfg.tie_word_embeddings,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        rms_norm_eps=1e-6,
        use_cache=True,
    )
    return _init(LlamaForCausalLM, config, cfg.seed, dtype)


def _init(cls, config, seed: int, dtype: torch.dtype) -> nn.Module:
    """`cls(config)` with weights drawn from `seed` (the global RNG untouched), in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config)
    model.to(dtype)
    model.eval()
    return model


FAMILIES = ("llama", "qwen2", "mistral", "gpt2", "phi")  # the MLP layouts editing/arch.py knows


def build_family(family: str, cfg: TinyConfig, vocab_size: int, *, dtype: torch.dtype = torch.float32):
    """A randomly initialised causal LM of `family` with `cfg`'s sizes (deterministic per seed):
    Llama-style down_proj (llama, qwen2, mistral), GPT-2's transposed Conv1D c_proj, Phi's fc2."""
    import transformers as tf

    common = dict(vocab_size=vocab_size, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                  tie_word_embeddings=cfg.tie_word_embeddings)
    if family == "llama":
        return build_model(cfg, vocab_size, dtype=dtype)
    if family == "gpt2":
        config = tf.GPT2Config(n_embd=cfg.hidden_size, n_inner=cfg.intermediate_size, n_layer=cfg.num_hidden_layers,
                               n_head=cfg.num_attention_heads, n_positions=cfg.max_position_embeddings,
                               resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **common)
        cls = tf.GPT2LMHeadModel
    elif family in ("qwen2", "mistral", "phi"):
        conf_cls, cls = {"qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM),
                         "mistral": (tf.MistralConfig, tf.MistralForCausalLM),
                         "phi": (tf.PhiConfig, tf.PhiForCausalLM)}[family]
        config = conf_cls(hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
                          num_hidden_layers=cfg.num_hidden_layers, num_attention_heads=cfg.num_attention_heads,
                          num_key_value_heads=cfg.num_key_value_heads,
                          max_position_embeddings=cfg.max_position_embeddings, **common)
    else:
        raise ValueError(f"unknown family {family!r}; one of {FAMILIES}")
    return _init(cls, config, cfg.seed, dtype)


def build_tiny(
    texts: Sequence[str], out_dir: Path | None = None, cfg: TinyConfig = TINY_TEST
) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """Tokenizer trained on `texts` plus a fresh model sized to it; saved to `out_dir` if given."""
    tokenizer = train_tokenizer(texts, cfg.vocab_size)
    model = build_model(cfg, len(tokenizer))
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
    n = sum(p.numel() for p in model.parameters())
    log.info("built tiny llama: %.2fM params, vocab %d", n / 1e6, len(tokenizer))
    return model, tokenizer
