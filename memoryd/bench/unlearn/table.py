"""Plain-text tables of `memoryd bench unlearn` results."""

from __future__ import annotations

__all__ = ["render_unlearn_table"]


def render_unlearn_table(result: dict) -> str:
    """A plain-text table of the figures (methods as rows)."""
    cols = [("method", 16), ("Acc_f", 7), ("F-RL", 7), ("R-RL", 7), ("R-RL/before", 12), ("ppl", 8),
            ("Δppl", 8), ("s/memory", 9), ("vs GA", 7)]
    head = " ".join(f"{c:<{w}}" for c, w in cols)
    lines = [head, "-" * len(head)]
    b = result["before"]
    lines.append(" ".join(f"{v:<{w}}" for v, (_, w) in zip(
        ["before", f"{b['forget_exact']:.2f}", f"{b['f_rl']:.3f}", f"{b['r_rl']:.3f}", "1.000",
         f"{b['ppl']:.2f}", "", "", ""], cols)))
    def ppl(x: float) -> str:
        return f"{x:.2f}" if abs(x) < 1e4 else f"{x:.1e}"

    for name, r in result["methods"].items():
        speed = f"{r['speedup_vs_ga']:.1f}x" if "speedup_vs_ga" in r else ""
        vals = [name, f"{r['forget_exact']:.2f}", f"{r['f_rl']:.3f}", f"{r['r_rl']:.3f}", f"{r['r_rl_ratio']:.3f}",
                ppl(r["ppl"]), ("+" if r["ppl_change"] >= 0 else "") + ppl(r["ppl_change"]), f"{r['seconds_per_memory']:.3f}", speed]
        lines.append(" ".join(f"{v:<{w}}" for v, (_, w) in zip(vals, cols)))
    m = result["methods"]
    if "check_seconds" in m["gradient_ascent"]:
        lines.append("time in checks (STAMP: greedy leak decoding; GA: stopping test after each step): "
                     + ", ".join(f"{n} {m[n]['check_seconds']:.2f}s of {m[n]['seconds']:.2f}s"
                                 for n in ("stamp", "stamp_lowrank", "gradient_ascent"))
                     + "; without them STAMP is " + " / ".join(f"{m[n]['speedup_vs_ga_without_checks']:.1f}x"
                                                              for n in ("stamp", "stamp_lowrank")) + " faster than GA")
    c = result["config"]
    lines.insert(0, f"unlearning: {c['n_profiles']} profiles, {c['n_forget']} erased in one request, "
                    f"{c['params_m']}M-param Llama ({c['layers']} layers), seed {c['seed']}, {c['device']}"
                    + (f"; times are the median of {c['repeats']} runs" if c.get("repeats", 1) > 1 else ""))
    for key in ("sequential", "sequential_unprotected"):
        if key in result:
            q = result[key]
            lines.append(f"{key}: {q['requests']} single-memory STAMP requests, {q['seconds_per_request']:.2f}s each; "
                         f"erased Acc_f {q['final_erased_exact']:.2f}, F-RL {q['final_erased_f_rl']:.3f} (never-seen "
                         f"profiles: Acc {q['unseen_exact_after']:.2f}, F-RL {q['unseen_f_rl_after']:.3f}); others R-RL "
                         f"min {q['min_others_r_rl']:.3f} (before {b['r_rl']:.3f}); ppl {q['ppl_after']:.2f}")
    lines.append(f"adapt: {result['adapt']['epochs']} epochs, {result['adapt']['seconds']:.0f}s; total "
                 f"{result.get('total_seconds', 0):.0f}s")
    lines.append("targets: " + ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in result.get("targets", {}).items()))
    return "\n".join(lines)
