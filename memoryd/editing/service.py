"""What the erasure and adaptation services call: paths in, metrics out (torch only, no SQL).

`forget_in_model` loads a local checkpoint (or a routed model: routed_edit.py), computes and
applies a STAMP edit, saves the edited model and verifies it. The returned report holds metrics only, never the erased text.
`adapt_on_memories` fine-tunes on memories and says which ones the model absorbed; the
ledger that records this lives in the store layer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..errors import EditingError
from .adapt import AdaptConfig, adapt_model
from .loading import load_model, save_model
from .routing import is_routed
from .stamp import StampConfig, apply_delta, compute_stamp_delta
from .verify import extraction_report, perplexity

__all__ = ["ForgetReport", "AdaptOutcome", "forget_in_model", "adapt_on_memories"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForgetReport:
    """Metrics of one erasure. Contains no memory text (safe to log and to store in a receipt)."""

    out_dir: str
    n_forget: int
    n_retain: int
    n_probes: int
    layers: list[int]
    solver: str
    edit_seconds: float
    total_seconds: float
    repair_rounds: int
    forget_exact_before: float  # fraction of fact probes completed exactly (Acc_f)
    forget_exact_after: float
    forget_rouge_l_before: float  # F-RL
    forget_rouge_l_after: float
    retain_exact_before: float
    retain_exact_after: float
    retain_rouge_l_before: float  # R-RL
    retain_rouge_l_after: float
    perplexity_before: float
    perplexity_after: float
    layer_stats: list[dict] = field(default_factory=list)
    shards_edited: list[int] = field(default_factory=list)  # a routed model: the shards STAMP edited

    @property
    def erased(self) -> bool:
        """No fact probe of the erased memories is completed exactly any more."""
        return self.forget_exact_after == 0.0

    @property
    def retain_ratio(self) -> float:
        """R-RL after / before (1.0 = retain recall untouched)."""
        return self.retain_rouge_l_after / self.retain_rouge_l_before if self.retain_rouge_l_before else 1.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["erased"] = self.erased
        d["retain_ratio"] = round(self.retain_ratio, 4)
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def forget_in_model(
    model_dir: Path, out_dir: Path, forget_texts: list[str], retain_texts: list[str],
    cfg: StampConfig | None = None, *, heldout_texts: Sequence[str] | None = None,
    device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
) -> ForgetReport:
    """Erase `forget_texts` from the model at `model_dir` with STAMP and save it to `out_dir`.

    Perplexity is measured on `heldout_texts` (default: the retain texts). A routed model
    (routing.py) is edited shard by shard: routed_edit.forget_in_routed.
    Raises EditingError when the model cannot be loaded or there is nothing to forget.
    """
    if not forget_texts:
        raise EditingError("nothing to forget: no texts")
    if Path(out_dir).resolve() == Path(model_dir).resolve():
        raise EditingError("out_dir must differ from model_dir (the original stays until the edit is verified)")
    if is_routed(model_dir):
        from .routed_edit import forget_in_routed

        return forget_in_routed(model_dir, out_dir, forget_texts, retain_texts, cfg, heldout_texts=heldout_texts,
                                device=device, dtype=dtype)
    cfg = cfg or StampConfig()
    t0 = time.perf_counter()
    device = torch.device(device)
    model, tokenizer = load_model(model_dir, device=device, dtype=dtype)
    ppl_texts = list(heldout_texts) if heldout_texts else list(retain_texts)

    f0 = extraction_report(model, tokenizer, forget_texts, device=device)
    r0 = extraction_report(model, tokenizer, retain_texts, device=device) if retain_texts else None
    p0 = perplexity(model, tokenizer, ppl_texts, device=device) if ppl_texts else float("nan")

    delta = compute_stamp_delta(model, tokenizer, forget_texts, retain_texts, cfg, device, dtype)
    apply_delta(model, delta)
    save_model(model, tokenizer, out_dir)

    f1 = extraction_report(model, tokenizer, forget_texts, device=device)
    r1 = extraction_report(model, tokenizer, retain_texts, device=device) if retain_texts else None
    p1 = perplexity(model, tokenizer, ppl_texts, device=device) if ppl_texts else float("nan")
    report = ForgetReport(
        out_dir=str(out_dir), n_forget=len(forget_texts), n_retain=len(retain_texts), n_probes=f0.n_probes,
        layers=list(delta.layers), solver=",".join(sorted({st.solver for st in delta.stats})) or cfg.solver,
        edit_seconds=delta.seconds,
        total_seconds=time.perf_counter() - t0, repair_rounds=delta.repair_rounds,
        forget_exact_before=f0.exact_rate, forget_exact_after=f1.exact_rate,
        forget_rouge_l_before=f0.rouge_l, forget_rouge_l_after=f1.rouge_l,
        retain_exact_before=r0.exact_rate if r0 else 1.0, retain_exact_after=r1.exact_rate if r1 else 1.0,
        retain_rouge_l_before=r0.rouge_l if r0 else 1.0, retain_rouge_l_after=r1.rouge_l if r1 else 1.0,
        perplexity_before=p0, perplexity_after=p1, layer_stats=[asdict(s) for s in delta.stats],
    )
    log.info("forget_in_model: erased=%s F-RL %.3f -> %.3f, R-RL %.3f -> %.3f", report.erased,
             report.forget_rouge_l_before, report.forget_rouge_l_after, report.retain_rouge_l_before,
             report.retain_rouge_l_after)
    return report


@dataclass(frozen=True)
class AdaptOutcome:
    out_dir: str
    absorbed_ids: list[str]  # memories whose every fact the adapted model completes greedily
    not_absorbed_ids: list[str]
    epochs: int
    final_loss: float
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def adapt_on_memories(
    model_dir: Path, out_dir: Path, memories: Mapping[str, str], cfg: AdaptConfig | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> AdaptOutcome:
    """Fine-tune on `memories` (id -> text), save to `out_dir`, and report which were absorbed."""
    if not memories:
        raise EditingError("no memories to adapt on")
    ids = list(memories)
    cfg = cfg or AdaptConfig()
    if not cfg.check_absorbed:
        cfg = AdaptConfig(**{**asdict(cfg), "check_absorbed": True})
    res = adapt_model(model_dir, [memories[i] for i in ids], out_dir, cfg, progress)
    assert len(res.absorbed) == len(ids)
    return AdaptOutcome(
        out_dir=str(res.out_dir), absorbed_ids=[i for i, ok in zip(ids, res.absorbed) if ok],
        not_absorbed_ids=[i for i, ok in zip(ids, res.absorbed) if not ok], epochs=res.epochs,
        final_loss=res.final_loss, seconds=res.seconds,
    )
