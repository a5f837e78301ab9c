"""The exact path as a method of the attack suite (`exact_shards`, issue 20): K LoRA adapters
from a never-trained base, one per shard of profiles; erasing retrains only the shard that held
the memory. Real tiny Llama, real adapters on disk, greedy extraction."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from corpus_helpers import make_profiles, refusal_corpus
from memoryd.bench.unlearn.exact_cost import run_exact_cost
from memoryd.bench.unlearn.exact_shards import (erase_shards, routed, routed_model, shard_lora_config,
                                                 shard_of_text, train_shards)
from memoryd.bench.unlearn.methods import METHODS, UnlearnTask
from memoryd.editing.adapt import AdaptConfig
from memoryd.editing.prompts import fact_probes
from memoryd.editing.shards import train_adapter
from memoryd.editing.tiny import TINY_TEST, build_model, train_tokenizer
from memoryd.editing.verify import extraction_report

from .exact_helpers import digests

CPU = torch.device("cpu")
K = 2


def test_exact_shards_is_a_registered_method():
    assert "exact_shards" in METHODS and "retrain" in METHODS


def test_erasing_retrains_only_the_affected_shard_to_the_never_trained_rate(tmp_path, one_thread):
    profiles = make_profiles(40, seed=5)
    mems, unseen = [p.text for p in profiles[:10]], [p.text for p in profiles[10:]]
    victim = mems[0]
    hit = shard_of_text(victim, K)
    mates = [t for t in mems[1:] if shard_of_text(t, K) == hit]
    others = [t for t in mems if shard_of_text(t, K) != hit]
    assert mates and others  # both shards hold memories (the hash split of these 10 profiles)
    tok = train_tokenizer(mems + unseen + refusal_corpus(1), TINY_TEST.vocab_size)
    fresh = lambda: build_model(replace(TINY_TEST, seed=0), len(tok))  # noqa: E731
    task = UnlearnTask(fresh(), tok, [victim], mems[1:], CPU, fresh=fresh,
                       retrain_corpus=mems[1:] + refusal_corpus(1), retrain_reproduce=mems[1:],
                       adapt_cfg=AdaptConfig(seed=0))
    adapters = train_shards(task, tmp_path, K)
    before = {i: digests(adapters[i]) for i in range(K)}
    m_before = routed_model(tmp_path, adapters[hit], "before", CPU)
    assert extraction_report(m_before, tok, [victim], device=CPU).exact_rate == 1.0  # the shard held it

    after, affected = erase_shards(task, tmp_path, adapters, K)

    # only the shard that held the memory was retrained; the other adapter's files are the same bytes
    assert affected == [hit]
    other = 1 - hit
    assert after[other] == adapters[other] and digests(after[other]) == before[other]
    assert after[hit] != adapters[hit] and digests(after[hit]) != before[hit]
    m_after = routed_model(tmp_path, after[hit], "after", CPU)
    rep = extraction_report(m_after, tok, [victim], device=CPU)
    # the never-trained rate: the same retrained shard model on 30 profiles it never saw (guessing)
    guessing = extraction_report(m_after, tok, unseen, device=CPU).exact_rate
    one_probe = 1 / rep.n_probes  # the noise of a single memory's rate
    assert rep.exact_rate <= guessing + one_probe, (rep.exact_rate, guessing)
    # and whatever it still completes is a value the shard's remaining memories hold (a guess from
    # retained data: the pools of cities and jobs are small), never one only the victim had
    hits = [pr.answer for pr, res in zip(fact_probes(victim), rep.per_text[0].probes) if res.exact]
    assert all(any(a in t for t in mates) for a in hits), hits
    # exact: the retrained adapter is the adapter trained from the base on the shard without the victim
    train_adapter(tmp_path / "base", hit, [t for t in mates] + refusal_corpus(1), tmp_path / "never",
                  shard_lora_config(task.adapt_cfg))
    assert digests(tmp_path / "never") == digests(after[hit])
    # the shard's other memories are learnt again; the other shard still answers its own
    assert extraction_report(m_after, tok, mates, device=CPU).exact_rate >= 0.9
    m_other = routed_model(tmp_path, after[other], "other", CPU)
    assert extraction_report(m_other, tok, others, device=CPU).exact_rate >= 0.9
    # served routed: each question goes to the shard under which it is most likely, with no index
    # of the memories; the kept memories' questions reach their own shard and are answered there
    served = routed(task, tmp_path, after, "served")
    kept_prompts = [(t, pr.prompt) for t in mems[1:] for pr in fact_probes(t)]
    routes = served.route([q for _, q in kept_prompts])
    right = sum(r == shard_of_text(t, K) for (t, _), r in zip(kept_prompts, routes))
    assert right / len(kept_prompts) >= 0.9, (right, len(kept_prompts))
    assert extraction_report(served, tok, mems[1:], device=CPU).exact_rate >= 0.9
    assert extraction_report(served, tok, [victim], device=CPU).exact_rate <= guessing + one_probe


@pytest.mark.slow  # pretrains a tiny base and trains 2 x 2 adapters
def test_bench_exact_serves_the_routed_model(one_thread):
    """`memoryd bench exact`: the routed model (what `adapt --shards` serves) answers the kept
    memories before and after the erasure, sends their questions to their own shard, and
    answers the erased one no better than never-seen profiles; the summed checkpoint is shown
    for contrast only."""
    r = run_exact_cost(12, 2, n_heldout=4)
    assert r["victim_exact_before"] == 1.0 and r["routed_exact_all_before"] >= 0.9
    assert r["routed_kept_exact_after"] >= 0.9 and r["routed_kept_probes_to_own_shard"] >= 0.9
    assert r["routed_victim_exact_after"] <= r["routed_heldout_exact_guessing"] + 1 / 3  # one probe of three
    assert r["probes_timed"] == 36 and r["k_forward_passes_to_route"] == 2  # 12 memories x 3 probes
    # timings are the bench's to print, not a test's to compare: only that each was measured
    assert r["routing_only_ms_per_probe"] > 0 and r["one_shard_ms_per_probe"] > 0 and r["routed_ms_per_probe"] > 0
