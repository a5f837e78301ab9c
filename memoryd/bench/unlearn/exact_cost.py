"""Cost of the exact path (sharded LoRA adapters) against full retraining, on a tiny model.

    memoryd bench exact [-n 40] [--shards 4] [--json]

A tiny Llama is "pretrained" on synthetic profiles nobody erases (the base), then K adapters are
trained from it, one per shard of `n` profile memories. One memory is erased: its shard's
adapter is retrained without it (the exact path) and, for comparison, every adapter is
retrained (full retraining without it). Reported: wall times, and extraction rates measured on
base + the erased memory's shard adapter (the shard that held it) for the erased memory, the
shard's retained memories and never-seen profiles (the guessing rate); the routed model
(editing/routing.py: every shard model, each probe answered by the shard it is most likely
under; what `adapt --shards` serves) before and after the erasure, and how often a kept
memory's probe reaches its own shard; and, for contrast, what the summed model (all adapters
merged into one checkpoint) reproduces.

Routing's price: answering every probe through the routed model (K scoring passes to route,
then decoding by one shard) against answering the same probes with one shard model directly
(decoding only), as milliseconds per probe, best of 3; and the routing (scoring) alone.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["run_exact_cost"]


def run_exact_cost(n: int = 40, k: int = 4, *, seed: int = 0, n_heldout: int = 8, threads: int = 1,
                   say: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    import torch

    from ...editing.adapt import AdaptConfig, train_on_texts
    from ...editing.loading import load_model, save_model
    from .profiles import make_profiles, refusal_corpus
    from ...editing.shards import compose, compose_routed, train_adapter
    from ...editing.tiny import TINY_TEST, build_tiny
    from ...editing.prompts import fact_probes
    from ...editing.routing import RoutedModel, load_routed
    from ...editing.verify import extraction_report

    torch.set_num_threads(threads)
    profiles = [p.text for p in make_profiles(n + n_heldout + 32, seed=11 + seed)]
    mems, heldout, generic = profiles[:n], profiles[n:n + n_heldout], profiles[n + n_heldout:]
    lora = AdaptConfig(max_epochs=150, lr=5e-3, batch_size=4, check_every=5, check_below_loss=3.0, settle_epochs=3,
                       warmup_steps=5, lora=True, lora_r=16, lora_alpha=32, seed=seed)
    cpu = torch.device("cpu")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        torch.manual_seed(seed)
        model, tok = build_tiny(generic + refusal_corpus(1), None, TINY_TEST)
        t0 = time.perf_counter()
        train_on_texts(model, tok, generic + refusal_corpus(2),
                       AdaptConfig(max_epochs=40, lr=5e-3, batch_size=16, check_every=0, warmup_steps=5))
        save_model(model, tok, root / "base")
        say(f"base pretrained in {time.perf_counter() - t0:.1f}s")
        shards = {i: mems[i::k] for i in range(k)}

        def train_all(tag: str, drop: str | None) -> tuple[dict[int, Path], dict[int, float]]:
            dirs, secs = {}, {}
            for i, texts in shards.items():
                texts = [t for t in texts if t != drop]
                t = time.perf_counter()
                train_adapter(root / "base", i, texts, root / f"{tag}{i}", lora)
                dirs[i], secs[i] = root / f"{tag}{i}", time.perf_counter() - t
            return dirs, secs

        first, first_secs = train_all("a", None)
        say(f"{k} adapters trained in {sum(first_secs.values()):.1f}s")
        victim, hit = shards[0][0], 0
        t = time.perf_counter()
        train_adapter(root / "base", hit, [x for x in shards[hit] if x != victim], root / "exact", lora)
        exact_s = time.perf_counter() - t
        _, full_secs = train_all("full", victim)
        full_s = sum(full_secs.values())
        say(f"exact retrain {exact_s:.1f}s, full retrain {full_s:.1f}s")

        def rates(adapters: list[Path], texts: list[str], out: str) -> float:
            compose(root / "base", adapters, root / out)
            m, tk = load_model(root / out)
            return extraction_report(m, tk, texts, device=cpu).exact_rate if texts else float("nan")

        mates = [x for x in shards[hit] if x != victim]
        before_victim = rates([first[hit]], [victim], "c0")
        after_victim = rates([root / "exact"], [victim], "c1")
        after_mates = rates([root / "exact"], mates, "c2")
        before_mates = rates([first[hit]], mates, "c3")
        guessing = rates([root / "exact"], heldout, "c4")
        never = rates([], [victim], "c5")  # the base alone: the erased memory never trained
        summed = rates(list(first.values()), mems, "c6")

        def served(adapters: dict[int, Path], tag: str) -> RoutedModel:  # what `adapt --shards` serves
            compose_routed(root / "base", [adapters[i] for i in sorted(adapters)], root / tag)
            return load_routed(root / tag, device=cpu)

        routed_before = served(first, "rb")
        routed_all = extraction_report(routed_before, tok, mems, device=cpu).exact_rate
        routed_after = served({**first, hit: root / "exact"}, "ra")
        routed_kept = extraction_report(routed_after, tok, [x for x in mems if x != victim], device=cpu).exact_rate
        routed_victim = extraction_report(routed_after, tok, [victim], device=cpu).exact_rate
        routed_guess = extraction_report(routed_after, tok, heldout, device=cpu).exact_rate
        kept_routes = routed_after.route([pr.prompt for x in mems if x != victim for pr in fact_probes(x)])
        cost = _routing_cost(routed_after, tok, mems, cpu)
        owner = [i for x in mems if x != victim for i, ts in shards.items() if x in ts for _ in fact_probes(x)]
    return {
        "n_memories": n, "k": k, "per_shard": n // k,
        "train_all_seconds": round(sum(first_secs.values()), 2),
        "exact_retrain_seconds": round(exact_s, 2), "full_retrain_seconds": round(full_s, 2),
        "speedup": round(full_s / exact_s, 2) if exact_s else None,
        "victim_exact_before": before_victim, "victim_exact_after": after_victim,
        "victim_exact_never_trained": never, "heldout_exact_guessing": guessing,
        "shard_retained_exact_before": before_mates, "shard_retained_exact_after": after_mates,
        "summed_model_exact_all": summed,
        "routed_exact_all_before": routed_all, "routed_kept_exact_after": routed_kept,
        "routed_victim_exact_after": routed_victim, "routed_heldout_exact_guessing": routed_guess,
        "routed_kept_probes_to_own_shard": round(sum(a == b for a, b in zip(kept_routes, owner)) / len(owner), 4),
        **cost,
    }


def _routing_cost(routed, tok, texts: list[str], device) -> dict[str, float]:
    """ms per probe: routed answering (route + decode), one shard answering (decode), routing alone."""
    from ...editing.prompts import fact_probes
    from ...editing.verify import probe_predictions

    prompts = [pr.prompt for x in texts for pr in fact_probes(x)]

    def best(fn) -> float:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return round(1000 * min(times) / max(1, len(prompts)), 3)

    return {"probes_timed": len(prompts), "k_forward_passes_to_route": routed.k,
            "routed_ms_per_probe": best(lambda: probe_predictions(routed, tok, texts, device=device)),
            "one_shard_ms_per_probe": best(lambda: probe_predictions(routed.models[0], tok, texts, device=device)),
            "routing_only_ms_per_probe": best(lambda: routed.route(prompts))}
