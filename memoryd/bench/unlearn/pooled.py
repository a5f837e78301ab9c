"""The attack suite over several seeds (`memoryd bench unlearn --attacks --seeds 0,1,2`).

One seed's extraction rates rest on a few dozen probes (16 erased profiles: 48 held-out
probes, so one probe is 0.021, more than the 0.02 margin of the targets), and two trainings of
the same recipe differ by a few probes. A target judged on one seed is a coin toss near the
margin; judged on the mean over seeds it is a measurement. So, per method:

- each figure's mean over the seeds, with its smallest and largest value;
- `pass`: the targets applied to the mean figures (the method's mean against its gold's mean,
  suite.py `_passes`), which is the pooled rate, every seed having the same probes;
- `fails`: per target, in how many seeds it failed on its own (the worst case stays visible).

A pure function of the per-seed results (dicts as `run_unlearn_benchmark` returns them).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from .suite import _passes

__all__ = ["pool_attack_runs", "FIGURES"]

FIGURES: dict[str, tuple[str, ...]] = {  # name -> path into a method's row
    "direct": ("direct",),
    "heldout": ("heldout", "all"),
    "relearn_related": ("relearn_related", "heldout"),
    "relearn_part": ("relearn_part", "heldout"),
    "relearn_related_direct": ("relearn_related", "direct"),
    "relearn_part_direct": ("relearn_part", "direct"),
    "mink_auc": ("mink", "auc_erased_vs_unseen"),
    "privleak": ("privleak",),
    "distinguish": ("distinguish",),
    "r_rl_ratio": ("r_rl_ratio",),
    "seconds": ("seconds",),
}


def _get(row: dict, path: tuple[str, ...]) -> float | None:
    v: object = row
    for key in path:
        if not isinstance(v, dict) or key not in v:
            return None
        v = v[key]
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _summary(values: list[float]) -> dict:
    return {"mean": round(statistics.fmean(values), 4), "min": round(min(values), 4), "max": round(max(values), 4),
            "values": [round(v, 4) for v in values]}


def _mean_row(rows: Sequence[dict]) -> dict:
    """A row of the suite's shape holding each figure's mean (what `_passes` reads)."""
    out: dict = {}
    for path in FIGURES.values():
        vals = [v for r in rows if (v := _get(r, path)) is not None]
        if not vals:
            continue
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = statistics.fmean(vals)
    return out


def pool_attack_runs(runs: Sequence[dict]) -> dict:
    """Per method of the attack suite: figures over the seeds, targets on the means, per-seed fails.

    `runs`: one `run_unlearn_benchmark(..., attacks=True)` result per seed. A method missing from
    some seeds is pooled over those it has (`seeds` says how many)."""
    if not runs:
        raise ValueError("no runs to pool")
    if any("attacks" not in r for r in runs):
        raise ValueError("every run must come from the attack suite (--attacks)")
    names: list[str] = []
    for r in runs:
        names += [n for n in r["attacks"]["methods"] if n not in names]
    methods: dict[str, dict] = {}
    for name in names:
        rows = [r["attacks"]["methods"][name] for r in runs if name in r["attacks"]["methods"]]
        figures = {f: _summary(vals) for f, path in FIGURES.items()
                   if (vals := [v for row in rows if (v := _get(row, path)) is not None])}
        fails: dict[str, int] = {}
        for row in rows:
            for target, ok in (row.get("pass") or {}).items():
                fails[target] = fails.get(target, 0) + (not ok)
        methods[name] = {"seeds": len(rows), "gold": rows[0].get("gold", "retrain"), "figures": figures,
                         "fails": fails}
    references = {m["gold"] for n, m in methods.items() if m["gold"] != n}
    for name, m in methods.items():
        gold = m["gold"]
        if name in references - {"retrain"}:  # a recipe's own retraining: a reference, no verdict
            m["fails"] = {}
            continue
        if gold == name or gold not in methods:
            continue
        own = _mean_row([r["attacks"]["methods"][name] for r in runs if name in r["attacks"]["methods"]])
        ref = _mean_row([r["attacks"]["methods"][gold] for r in runs if gold in r["attacks"]["methods"]])
        needed = ("heldout", "relearn_related", "relearn_part", "privleak", "distinguish")
        if all(k in own for k in needed) and all(k in ref for k in ("heldout", "relearn_related", "relearn_part")):
            m["pass"] = _passes({**own, "r_rl_ratio": own.get("r_rl_ratio")}, ref)
    return {"n_seeds": len(runs), "seeds": [r.get("config", {}).get("seed") for r in runs], "methods": methods}
