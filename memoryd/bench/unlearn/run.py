"""`memoryd bench unlearn`: STAMP vs gradient ascent vs SSD on a tiny model built locally.

1. build a ~10M-parameter Llama and a BPE tokenizer from configs (nothing downloaded);
2. adapt it on synthetic personal profiles (+ plain refusal sentences) until it reproduces
   every fact of every profile;
3. erase `n_forget` profiles in one request with STAMP (full and low-rank solve, and the full
   solve without repair rounds), gradient ascent and SSD, each from the same adapted weights;
   and, as the gold standard, retrain from the same initialisation without them;
4. report forget exact-match (Acc_f) and F-RL, retain R-RL and its ratio to before, held-out
   perplexity, and wall time per erased memory;
5. sequential erasures: `n_sequential` single-memory STAMP requests one after another;
6. with `attacks`: the model also learns each profile in other phrasings (forms.py) and every
   method of methods.METHODS is attacked (suite.py): held-out prompt forms, relearning,
   Min-K% membership inference against the retrained model (PrivLeak), an output classifier
   telling it from the retrained model; STAMP's scalability and sustainability. The exact
   path (`exact_shards`: K LoRA shard adapters from the base, the affected shards retrained)
   is evaluated summed and routed to each profile's shard.
"""

from __future__ import annotations

import copy
import logging
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
from torch import nn

from ...editing.adapt import AdaptConfig, train_on_texts
from ...errors import ValidationError
from .profiles import make_profiles, refusal_corpus
from ...editing.stamp import StampConfig, apply_delta, compute_stamp_delta, revert_delta
from ...editing.tiny import TINY_BENCH, TinyConfig, build_model, train_tokenizer
from ...editing.verify import extraction_report, perplexity
from .attacks import RelearnConfig
from .baselines import BaselineResult, GAConfig, SSDConfig, gradient_ascent, selective_synaptic_dampening
from .forms import forms_texts, world_facts
from .methods import METHODS, UnlearnTask
from .speed_sizes import speed_by_size
from .suite import run_attack_suite, scalability, sustainability
from .uno import UNOConfig, uno

__all__ = ["run_unlearn_benchmark"]

log = logging.getLogger(__name__)

Log = Callable[[str], None]


def _eval(model: nn.Module, tok, forget: list[str], retain: list[str], heldout: list[str],
          device: torch.device) -> dict:
    f = extraction_report(model, tok, forget, device=device)
    r = extraction_report(model, tok, retain, device=device)
    return {"forget_exact": f.exact_rate, "forget_any_fact": f.any_fact_rate, "f_rl": f.rouge_l,
            "retain_exact": r.exact_rate, "r_rl": r.rouge_l,
            "ppl": perplexity(model, tok, heldout, device=device)}


def _fingerprint(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def run_unlearn_benchmark(
    n_profiles: int = 64, n_forget: int = 8, seed: int = 0, device: str = "cpu", log: Log | None = None, *,
    n_heldout: int = 32, n_sequential: int = 10, repeats: int = 3, retrain: bool = True,
    model_cfg: TinyConfig = TINY_BENCH,
    adapt_cfg: AdaptConfig | None = None, stamp_cfg: StampConfig | None = None,
    ga_cfg: GAConfig = GAConfig(), ssd_cfg: SSDConfig = SSDConfig(), uno_cfg: UNOConfig = UNOConfig(),
    attacks: bool = False, relearn_cfg: RelearnConfig = RelearnConfig(), scale_sizes: tuple[int, ...] = (1, 8, 32),
    n_sustain: int = 10, attack_methods: Sequence[str] | None = None, speed_sizes: tuple[int, ...] = (),
) -> dict:
    """Run the whole benchmark; returns a JSON-serialisable dict of figures.

    Each method runs `repeats` times from the same weights and its times are the median (the
    quality figures are those of the first run; repeated runs must give the same edit). With
    `retrain`, the gold standard too: the same model adapted from the same initialisation on
    the retained memories only, which never saw the erased ones (what it gets right of them
    is guessed)."""
    say = log or (lambda msg: None)
    unknown = sorted(set(attack_methods or ()) - set(METHODS))
    if unknown:
        raise ValidationError(f"unknown unlearning method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    if not 0 < n_forget < n_profiles:
        raise ValueError("need 0 < n_forget < n_profiles")
    if repeats < 1:
        raise ValueError("need repeats >= 1")
    dev = torch.device(device)
    t_all = time.perf_counter()
    torch.manual_seed(seed)
    profiles = make_profiles(n_profiles + n_heldout, seed)
    memories = [p.text for p in profiles[:n_profiles]]
    heldout = [p.text for p in profiles[n_profiles:]]
    rng = random.Random(seed)
    order = list(range(n_profiles))
    rng.shuffle(order)
    forget = [memories[i] for i in sorted(order[:n_forget])]
    retain = [memories[i] for i in sorted(order[n_forget:])]
    # with attacks, every profile is also learnt in the held-out phrasings (never given to an edit)
    extra = [t for p in profiles[:n_profiles] for t in forms_texts(p)] + world_facts() if attacks else []
    kept_extra = ([t for i in sorted(order[n_forget:]) for t in forms_texts(profiles[i])] + world_facts()
                  if attacks else [])

    # 1-2: build and adapt
    say(f"building tokenizer and model ({model_cfg.hidden_size}x{model_cfg.num_hidden_layers})")
    tok = train_tokenizer(memories + heldout + refusal_corpus(1) + extra
                          + [t for p in profiles[n_profiles:] for t in forms_texts(p)], model_cfg.vocab_size)
    model = build_model(replace(model_cfg, seed=seed), len(tok)).to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    adapt_cfg = adapt_cfg or AdaptConfig(max_epochs=80, lr=2e-3, check_every=2, seed=seed, device=device)
    say(f"adapting on {n_profiles} profiles")
    t0 = time.perf_counter()
    epochs, loss = train_on_texts(model, tok, memories + extra + refusal_corpus(4), adapt_cfg,
                                  must_reproduce=memories + extra)
    adapt_s = time.perf_counter() - t0
    before = _eval(model, tok, forget, retain, heldout, dev)
    unseen = extraction_report(model, tok, heldout, device=dev)  # guessing baseline before any edit
    say(f"adapted in {adapt_s:.0f}s ({epochs} epochs): forget exact {before['forget_exact']:.2f}, "
        f"R-RL {before['r_rl']:.3f}")

    out: dict = {
        "config": {"n_profiles": n_profiles, "n_forget": n_forget, "n_heldout": n_heldout, "seed": seed,
                   "repeats": repeats, "attacks": attacks,
                   "device": device, "params_m": round(n_params / 1e6, 2), "vocab": len(tok),
                   "layers": model_cfg.num_hidden_layers, "hidden": model_cfg.hidden_size,
                   "intermediate": model_cfg.intermediate_size, "torch_threads": torch.get_num_threads()},
        "adapt": {"epochs": epochs, "final_loss": round(loss, 4), "seconds": round(adapt_s, 1),
                  "absorbed": round(_absorbed(model, tok, memories, dev), 4)},
        "before": _round({**before, "unseen_exact": unseen.exact_rate, "unseen_f_rl": unseen.rouge_l}),
        "methods": {},
    }

    # 3-4: one request erasing n_forget memories, each method from the same weights
    stamp_cfg = stamp_cfg or StampConfig()
    variants = (("stamp", replace(stamp_cfg, solver="full")), ("stamp_lowrank", replace(stamp_cfg, solver="lowrank")),
                # the closed-form edit alone: no leak check, no repair round
                ("stamp_no_repair", replace(stamp_cfg, solver="full", repair_rounds=0)))
    for name, cfg in variants:
        say(f"{name}: erasing {n_forget} memories" + (f" ({repeats} runs)" if repeats > 1 else ""))
        orig = _fingerprint(model)
        runs = [compute_stamp_delta(model, tok, forget, retain, cfg, dev, next(model.parameters()).dtype)
                for _ in range(repeats)]
        delta = runs[0]
        untouched = all(torch.equal(a, b) for a, b in zip(orig, model.parameters()))
        same_edit = all(torch.equal(r.deltas[k], delta.deltas[k]) for r in runs[1:] for k in delta.deltas)
        apply_delta(model, delta)
        row = _eval(model, tok, forget, retain, heldout, dev)
        revert_delta(model, delta)
        row.update(seconds=statistics.median(r.seconds for r in runs),
                   check_seconds=statistics.median(r.check_seconds for r in runs),
                   seconds_runs=[round(r.seconds, 4) for r in runs], layers=list(delta.layers),
                   repair_rounds=delta.repair_rounds, compute_did_not_mutate=untouched, repeat_same_edit=same_edit,
                   revert_bit_identical=all(torch.equal(a, b) for a, b in zip(orig, model.parameters())))
        out["methods"][name] = _summarise(row, before, n_forget)
    say("gradient ascent" + (f" ({repeats} runs)" if repeats > 1 else ""))
    ga_runs, ga_row = _baseline_runs(model, lambda m: gradient_ascent(m, tok, forget, ga_cfg, device=dev), repeats,
                                     lambda m: _eval(m, tok, forget, retain, heldout, dev))
    ga = ga_runs[0]
    out["methods"]["gradient_ascent"] = _summarise(
        {**ga_row, "seconds": statistics.median(r.seconds for r in ga_runs),
         "check_seconds": statistics.median(r.check_seconds for r in ga_runs),
         "seconds_runs": [round(r.seconds, 4) for r in ga_runs],
         "steps": ga.steps, "steps_runs": [r.steps for r in ga_runs], "reached_zero": ga.forgot}, before, n_forget)
    say("selective synaptic dampening" + (f" ({repeats} runs)" if repeats > 1 else ""))
    ssd_runs, ssd_row = _baseline_runs(
        model, lambda m: selective_synaptic_dampening(m, tok, forget, retain, ssd_cfg, device=dev), repeats,
        lambda m: _eval(m, tok, forget, retain, heldout, dev))
    out["methods"]["ssd"] = _summarise(
        {**ssd_row, "seconds": statistics.median(r.seconds for r in ssd_runs),
         "seconds_runs": [round(r.seconds, 4) for r in ssd_runs],
         "changed_params": ssd_runs[0].changed_params}, before, n_forget)
    say("UNO (gradient ascent orthogonal to retain gradients)" + (f" ({repeats} runs)" if repeats > 1 else ""))
    uno_runs, uno_row = _baseline_runs(model, lambda m: uno(m, tok, forget, retain, uno_cfg, device=dev), repeats,
                                       lambda m: _eval(m, tok, forget, retain, heldout, dev))
    out["methods"]["uno"] = _summarise(
        {**uno_row, "seconds": statistics.median(r.seconds for r in uno_runs),
         "check_seconds": statistics.median(r.check_seconds for r in uno_runs),
         "seconds_runs": [round(r.seconds, 4) for r in uno_runs],
         "steps": uno_runs[0].steps, "reached_zero": uno_runs[0].forgot}, before, n_forget)
    retrained = None
    retrain_corpus = retain + kept_extra + refusal_corpus(4)
    if retrain or attacks:
        say(f"retraining from scratch on the {len(retain)} retained profiles (never sees the erased)")
        retrained = build_model(replace(model_cfg, seed=seed), len(tok)).to(dev)
        t0 = time.perf_counter()
        r_epochs, _ = train_on_texts(retrained, tok, retrain_corpus, adapt_cfg, must_reproduce=retain + kept_extra)
        out["methods"]["retrain"] = _summarise(
            {**_eval(retrained, tok, forget, retain, heldout, dev), "seconds": time.perf_counter() - t0,
             "epochs": r_epochs}, before, n_forget)
    ga_s = out["methods"]["gradient_ascent"]["seconds"]
    ga_work = ga_s - out["methods"]["gradient_ascent"]["check_seconds"]
    for name, _ in variants:
        r = out["methods"][name]
        r["speedup_vs_ga"] = round(ga_s / max(1e-9, r["seconds"]), 2)
        # each method's own work without its checks (GA's stopping test, STAMP's leak decoding)
        r["speedup_vs_ga_without_checks"] = round(ga_work / max(1e-9, r["seconds"] - r["check_seconds"]), 2)
    if speed_sizes:  # the same two methods at other request sizes: the worst size is the target's figure
        out["speed_by_size"] = speed_by_size(model, tok, memories, order, speed_sizes, variants[0][1], ga_cfg, dev,
                                             repeats, say)

    # 5: sequential single-memory requests on one model
    if n_sequential:
        out["sequential"] = _sequential(model, tok, forget, retain, heldout, stamp_cfg, n_sequential, dev, say,
                                        protect_erased=True)
        out["sequential_unprotected"] = _sequential(model, tok, forget, retain, heldout, stamp_cfg, n_sequential,
                                                    dev, say, protect_erased=False)
    if attacks:
        kept_p = [profiles[i] for i in sorted(order[n_forget:])]
        task = UnlearnTask(model, tok, forget, retain, dev,
                           fresh=lambda: build_model(replace(model_cfg, seed=seed), len(tok)),
                           retrain_corpus=retrain_corpus, retrain_reproduce=retain + kept_extra,
                           adapt_cfg=adapt_cfg, stamp_cfg=stamp_cfg, ga_cfg=ga_cfg, ssd_cfg=ssd_cfg, uno_cfg=uno_cfg,
                           profile_texts={p.text: [p.text, *forms_texts(p)] for p in profiles[:n_profiles]})
        out["attacks"] = run_attack_suite(task, [profiles[i] for i in sorted(order[:n_forget])], kept_p,
                                          profiles[n_profiles:], retrained=retrained, rcfg=relearn_cfg, say=say,
                                          methods={k: m for k, m in METHODS.items()
                                                   if attack_methods is None or k in attack_methods or k == "retrain"})
        out["attacks"]["scalability"] = scalability(model, tok, profiles[:n_profiles], order, profiles[n_profiles:],
                                                    stamp_cfg, dev, scale_sizes, say)
        if n_sustain:
            out["attacks"]["sustainability"] = sustainability(model, tok, profiles[:n_profiles], order,
                                                              profiles[n_profiles:], stamp_cfg, dev, n_sustain, say)
    del retrained
    out["targets"] = _targets(out)
    out["total_seconds"] = round(time.perf_counter() - t_all, 1)
    say(f"done in {out['total_seconds']:.0f}s")
    return out


def _baseline_runs(model: nn.Module, run: Callable[[nn.Module], BaselineResult], repeats: int,
                   evaluate: Callable[[nn.Module], dict]) -> tuple[list[BaselineResult], dict]:
    """`run` on a fresh copy of `model`, `repeats` times; the results and the first copy's figures."""
    results, row = [], {}
    for i in range(repeats):
        m = copy.deepcopy(model)
        results.append(run(m))
        if i == 0:
            row = evaluate(m)
    return results, row


def _absorbed(model: nn.Module, tok, memories: list[str], dev: torch.device) -> float:
    rep = extraction_report(model, tok, memories, device=dev)
    return sum(t.extracted_all for t in rep.per_text) / max(1, len(memories))


def _sequential(model: nn.Module, tok, forget: list[str], retain: list[str], heldout: list[str],
                cfg: StampConfig, n: int, dev: torch.device, say: Log, *, protect_erased: bool) -> dict:
    """Erase n retain memories one request at a time on one model.

    Each request protects the memories still held; with `protect_erased` it also passes the
    earlier erased texts as retain texts, which pins their (already refusing) outputs, so a
    later edit cannot undo an earlier one. Without it only the remaining memories are protected.
    """
    n = min(n, len(retain) - 1)
    targets, remaining = retain[:n], list(retain[n:]) + list(forget)
    deltas = []
    steps = []
    erased: list[str] = []
    t_total = 0.0
    for i, text in enumerate(targets):
        still = list(targets[i + 1 :]) + remaining + (erased if protect_erased else [])
        delta = compute_stamp_delta(model, tok, [text], still, cfg, dev, next(model.parameters()).dtype)
        apply_delta(model, delta)
        deltas.append(delta)
        erased.append(text)
        t_total += delta.seconds
        f = extraction_report(model, tok, erased, device=dev)
        r = extraction_report(model, tok, remaining, device=dev)
        steps.append({"request": i + 1, "seconds": round(delta.seconds, 3), "erased_exact": round(f.exact_rate, 4),
                      "erased_f_rl": round(f.rouge_l, 4), "others_r_rl": round(r.rouge_l, 4)})
        say(f"sequential{'' if protect_erased else ' (unprotected)'} {i + 1}/{n}: erased Acc_f {f.exact_rate:.3f} "
            f"F-RL {f.rouge_l:.3f}, others R-RL {r.rouge_l:.3f}")
    ppl = perplexity(model, tok, heldout, device=dev)
    # the guessing baseline: facts of profiles the model never saw, which it can only guess
    # (common cities and jobs); erased facts that "come back" at this rate are guesses too
    unseen = extraction_report(model, tok, heldout, device=dev)
    for delta in reversed(deltas):  # leave the model as we found it
        revert_delta(model, delta)
    return {"requests": n, "protect_erased": protect_erased, "steps": steps, "final_erased_exact": steps[-1]["erased_exact"],
            "final_erased_f_rl": steps[-1]["erased_f_rl"], "final_others_r_rl": steps[-1]["others_r_rl"],
            "min_others_r_rl": min(s["others_r_rl"] for s in steps), "ppl_after": round(ppl, 3),
            "unseen_exact_after": round(unseen.exact_rate, 4), "unseen_f_rl_after": round(unseen.rouge_l, 4),
            "seconds_per_request": round(t_total / max(1, n), 3)}


def _summarise(row: dict, before: dict, n_forget: int) -> dict:
    out = _round(row)
    out["r_rl_ratio"] = round(row["r_rl"] / before["r_rl"], 4) if before["r_rl"] else None
    out["ppl_change"] = round(row["ppl"] - before["ppl"], 3)
    out["seconds_per_memory"] = round(row["seconds"] / n_forget, 4)
    return out


def _round(d: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def _targets(out: dict) -> dict:
    s = out["methods"]["stamp"]
    t = {"stamp_forget_exact_zero": s["forget_exact"] == 0.0, "stamp_f_rl_zero": s["f_rl"] == 0.0,
         "stamp_r_rl_ratio_ge_0.95": (s["r_rl_ratio"] or 0) >= 0.95,
         "stamp_10x_faster_than_ga": s["speedup_vs_ga"] >= 10.0,
         "stamp_lowrank_10x_faster_than_ga": out["methods"]["stamp_lowrank"]["speedup_vs_ga"] >= 10.0}
    if out.get("speed_by_size", {}).get("sizes"):
        t["stamp_10x_faster_than_ga_at_every_size"] = out["speed_by_size"]["target_10x_at_every_size"]
    if "sequential" in out:
        q = out["sequential"]
        t["sequential_erased_exact_zero"] = q["final_erased_exact"] == 0.0
        t["sequential_r_rl_ratio_ge_0.95"] = q["min_others_r_rl"] / max(1e-9, out["before"]["r_rl"]) >= 0.95
    return t
