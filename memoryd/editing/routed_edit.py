"""STAMP on a routed model (routing.py): edit only the shards that still complete an erased fact.

The exact path serves K shard models behind a router. An erasure's immediate step (before the
erased memories' shards are retrained from the base) must stop the *routed* model answering:

  1. load the routed model; measure forget/retain extraction and perplexity through routing;
  2. for every shard whose own greedy extraction completes any probe of an erased memory
     (whatever the router would pick today: an edit shifts the routes), compute a STAMP delta
     on that shard's model against the texts it completes, with the retain texts as keys to
     preserve, apply it and save the shard; the other shards are copied unchanged;
  3. write routing.json and verify through routing again: `erased` when no probe of an erased
     memory is completed exactly by the routed model.

The report has the fields of a plain edit (service.ForgetReport), aggregated over the shards
edited (layers: their union; edit seconds: their sum; repair rounds: the most; layer stats
tagged with the shard), plus `shards_edited`. No text.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from .loading import save_model
from .routing import load_routed, shard_dir, write_routing
from .service import ForgetReport
from .stamp import StampConfig, apply_delta, compute_stamp_delta
from .verify import extraction_report, perplexity

__all__ = ["forget_in_routed"]

log = logging.getLogger(__name__)


def forget_in_routed(
    model_dir: Path, out_dir: Path, forget_texts: list[str], retain_texts: list[str],
    cfg: StampConfig | None = None, *, heldout_texts: Sequence[str] | None = None,
    device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
) -> ForgetReport:
    """Erase `forget_texts` from the routed model at `model_dir`; the edited routed model goes to
    `out_dir` (every shard: edited or copied). Callers go through service.forget_in_model."""
    cfg = cfg or StampConfig()
    t0 = time.perf_counter()
    device = torch.device(device)
    src, out = Path(model_dir), Path(out_dir)
    rm = load_routed(src, device=device, dtype=dtype)
    tok = rm.tokenizer
    ppl_texts = list(heldout_texts) if heldout_texts else list(retain_texts)

    f0 = extraction_report(rm, tok, forget_texts, device=device)
    r0 = extraction_report(rm, tok, retain_texts, device=device) if retain_texts else None
    p0 = perplexity(rm, tok, ppl_texts, device=device) if ppl_texts else float("nan")

    edited: list[int] = []
    layers: set[int] = set()
    solvers: set[str] = set()
    stats: list[dict] = []
    edit_seconds, repair_rounds = 0.0, 0
    out.mkdir(parents=True, exist_ok=True)
    for i, model in enumerate(rm.models):
        own = extraction_report(model, tok, forget_texts, device=device)  # this shard alone, no routing
        known = [t for t, e in zip(forget_texts, own.per_text) if e.n_exact > 0]
        if not known:
            shutil.copytree(shard_dir(src, i), shard_dir(out, i))
            continue
        delta = compute_stamp_delta(model, tok, known, retain_texts, cfg, device, dtype)
        apply_delta(model, delta)  # in place: `rm` now routes over the edited shard
        save_model(model, tok, shard_dir(out, i))
        edited.append(i)
        layers.update(delta.layers)
        solvers.update(st.solver for st in delta.stats)
        stats += [{"shard": i, **asdict(st)} for st in delta.stats]
        edit_seconds += delta.seconds
        repair_rounds = max(repair_rounds, delta.repair_rounds)
    write_routing(out, rm.k, tok)

    f1 = extraction_report(rm, tok, forget_texts, device=device)
    r1 = extraction_report(rm, tok, retain_texts, device=device) if retain_texts else None
    p1 = perplexity(rm, tok, ppl_texts, device=device) if ppl_texts else float("nan")
    report = ForgetReport(
        out_dir=str(out), n_forget=len(forget_texts), n_retain=len(retain_texts), n_probes=f0.n_probes,
        layers=sorted(layers), solver=",".join(sorted(solvers)) or cfg.solver, edit_seconds=edit_seconds,
        total_seconds=time.perf_counter() - t0, repair_rounds=repair_rounds,
        forget_exact_before=f0.exact_rate, forget_exact_after=f1.exact_rate,
        forget_rouge_l_before=f0.rouge_l, forget_rouge_l_after=f1.rouge_l,
        retain_exact_before=r0.exact_rate if r0 else 1.0, retain_exact_after=r1.exact_rate if r1 else 1.0,
        retain_rouge_l_before=r0.rouge_l if r0 else 1.0, retain_rouge_l_after=r1.rouge_l if r1 else 1.0,
        perplexity_before=p0, perplexity_after=p1, layer_stats=stats, shards_edited=edited,
    )
    log.info("forget_in_routed: shards edited %s of %d; erased=%s F-RL %.3f -> %.3f, R-RL %.3f -> %.3f",
             edited, rm.k, report.erased, report.forget_rouge_l_before, report.forget_rouge_l_after,
             report.retain_rouge_l_before, report.retain_rouge_l_after)
    return report
