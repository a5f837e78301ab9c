"""Local model + tokenizer: deterministic, and loadable with the Auto* classes."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from memoryd.editing.tiny import TINY_TEST, build_model, build_tiny

TEXTS = ["Alice Novak's email is anovak@kestrel.org. She lives in Graz.", "I don't know."] * 3


def test_build_is_deterministic():
    a, b = build_model(TINY_TEST, 300), build_model(TINY_TEST, 300)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    n = sum(p.numel() for p in a.parameters())
    assert 100_000 < n < 2_000_000


def test_save_and_load_with_auto_classes(tmp_path):
    model, tok = build_tiny(TEXTS, tmp_path, TINY_TEST)
    m2 = AutoModelForCausalLM.from_pretrained(tmp_path, local_files_only=True)
    t2 = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    assert all(torch.equal(x, y) for x, y in zip(model.parameters(), m2.parameters()))
    ids = t2("Alice Novak's email")["input_ids"]
    assert ids[0] == t2.bos_token_id == tok.bos_token_id
    assert t2.decode(ids, skip_special_tokens=True) == "Alice Novak's email"
    assert t2.pad_token == "<pad>" and t2.eos_token == "<eos>"
