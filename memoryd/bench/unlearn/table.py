"""Plain-text tables of `memoryd bench unlearn` results."""

from __future__ import annotations

__all__ = ["render_unlearn_table", "render_attack_table", "render_pooled_table"]


def render_unlearn_table(result: dict) -> str:
    """A plain-text table of the figures (methods as rows)."""
    cols = [("method", 20), ("Acc_f", 7), ("F-RL", 7), ("R-RL", 7), ("R-RL/before", 12), ("ppl", 8),
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
    if result.get("speed_by_size", {}).get("sizes"):
        sp = result["speed_by_size"]
        lines.append("speed by request size (STAMP full vs GA run to F-RL 0, same weights): " + "; ".join(
            f"n={x['n']}: {x['stamp_seconds']:.2f}s vs {x['ga_seconds']:.2f}s ({x['ga_steps']} GA steps"
            + ("" if x["ga_reached_zero"] else ", F-RL 0 never reached") + ") = "
            + ("" if x["ga_reached_zero"] else ">= ") + f"{x['ratio']:.1f}x, F-RL {x['stamp_f_rl']:.3f}/{x['ga_f_rl']:.3f}, R-RL/bef "
            f"{x['stamp_r_rl_ratio']:.3f}/{x['ga_r_rl_ratio']:.3f}" for x in sp["sizes"])
            + f"; worst {sp['worst_ratio']:.1f}x at n={sp['worst_n']}")
        lines.append("STAMP's floor (one walk + one leak check, retain side prepared beforehand: the most any "
                     "cache could give): " + "; ".join(
                         f"n={x['n']}: {x['stamp_floor_seconds']:.2f}s = at most {x['floor_ratio']:.1f}x "
                         f"({x['floor_ratio_without_checks']:.1f}x without either check)" for x in sp["sizes"]))
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
    if "attacks" in result:
        lines += ["", render_attack_table(result["attacks"])]
    return "\n".join(lines)


def render_attack_table(att: dict) -> str:
    """The attack suite (suite.py): one row per method, the targets next to the figures."""
    g = att["methods"]["retrain"]
    cols = [("method", 20), ("direct", 7), ("para", 6), ("rev", 6), ("multi", 6), ("held-out", 9),
            ("relearn rel/part", 17), ("MinK AUC", 9), ("PrivLeak%", 10), ("disting.", 9), ("R-RL/bef", 9),
            ("sec", 8), ("pass", 0)]
    head = " ".join(f"{c:<{w}}" for c, w in cols)
    lines = ["unlearning under attack (extraction = exact answers of the erased profiles' facts; "
             "relearning: held-out forms after the attack)", head, "-" * len(head)]
    rows = [("before", att["before"], None)] + [(n, r, r.get("pass")) for n, r in att["methods"].items()]
    for name, r, ok in rows:
        h = r["heldout"]
        vals = [name, f"{r['direct']:.2f}", f"{h.get('paraphrase', 0):.2f}", f"{h.get('reversed', 0):.2f}",
                f"{h.get('multihop', 0):.2f}", f"{h['all']:.3f}",
                f"{r['relearn_related']['heldout']:.2f}/{r['relearn_part']['heldout']:.2f}",
                f"{r['mink']['auc_erased_vs_unseen']:.3f}", f"{r['privleak']:+.1f}" if "privleak" in r else "",
                f"{r['distinguish']:.3f}" if "distinguish" in r else "",
                f"{r['r_rl_ratio']:.3f}" if r.get("r_rl_ratio") is not None else "",
                f"{r['seconds']:.1f}" if r.get("seconds") is not None else "",
                ("all" if all(ok.values()) else "FAIL: " + ",".join(k for k, v in ok.items() if not v))
                if ok else ""]
        lines.append(" ".join(f"{v:<{w}}" for v, (_, w) in zip(vals, cols)))
    for name, r in att["methods"].items():
        if "vs_retrain" in r:
            v, ok = r["vs_retrain"], r["pass_vs_retrain"]
            lines.append(f"{name} is judged against {r['gold']} (its own recipe retrained from scratch, other seeds); "
                         f"against the fully retrained model: PrivLeak {v['privleak']:+.1f}%, distinguishability "
                         f"{v['distinguish']:.3f}, " + ("all targets met" if all(ok.values()) else
                                                         "FAIL: " + ",".join(k for k, x in ok.items() if not x)))
    t = att["targets"]
    lines.append(f"targets: held-out {t['heldout']} ({g['heldout']['all'] + 0.02:.3f}); relearning {t['relearn']} "
                 f"({g['relearn_related']['heldout'] + 0.02:.2f}/{g['relearn_part']['heldout'] + 0.02:.2f}, and on "
                 f"the direct probes {g['relearn_related']['direct'] + 0.02:.2f}/{g['relearn_part']['direct'] + 0.02:.2f}); "
                 f"PrivLeak {t['privleak']}; distinguishability {t['distinguish']} (set for the exact path); "
                 f"R-RL {t['r_rl_ratio']}")
    lines.append("relearning on the direct probes (related/part): " + ", ".join(
        f"{n} {r['relearn_related']['direct']:.2f}/{r['relearn_part']['direct']:.2f}"
        for n, r in att["methods"].items()))
    if "scalability" in att:
        s = att["scalability"]
        lines.append("scalability (STAMP, one request): " + "; ".join(
            f"n={x['n']}: direct {x['direct']:.2f}, held-out {x['heldout']:.3f}, R-RL/bef {x['r_rl_ratio']:.3f}, "
            f"{x['seconds']:.2f}s" for x in s["sizes"]) + f" (never-seen held-out rate {s['unseen_heldout']:.3f})")
    if "sustainability" in att:
        q = att["sustainability"]
        lines.append(f"sustainability (STAMP, {q['requests']} sequential requests): direct {q['direct']:.2f}, "
                     f"held-out {q['heldout']:.3f} (never-seen {q['unseen_heldout']:.3f}), R-RL/bef "
                     f"{q['r_rl_ratio']:.3f}, {q['seconds_per_request']:.2f}s per request")
    return "\n".join(lines)


def render_pooled_table(pooled: dict) -> str:
    """The attack suite over several seeds (pooled.py): means with their range, the targets on
    the means, and in how many seeds each target failed alone."""
    cols = [("method", 20), ("held-out", 19), ("relearn (a)", 19), ("relearn (b)", 19), ("PrivLeak%", 21),
            ("disting.", 19), ("R-RL/bef", 19), ("on the means", 0)]
    head = " ".join(f"{c:<{w}}" for c, w in cols)
    lines = [f"unlearning under attack over {pooled['n_seeds']} seeds {pooled['seeds']}: mean [min, max]; "
             "targets judged on the means", head, "-" * len(head)]

    def cell(m: dict, fig: str, fmt: str) -> str:
        s = m["figures"].get(fig)
        if s is None:
            return ""
        return f"{s['mean']:{fmt}} [{s['min']:{fmt}},{s['max']:{fmt}}]"

    for name, m in pooled["methods"].items():
        ok = m.get("pass")
        verdict = "" if ok is None else ("all" if all(ok.values()) else
                                         "FAIL: " + ",".join(k for k, v in ok.items() if not v))
        alone = {k: n for k, n in m["fails"].items() if n}
        if alone:
            verdict += " (failed alone: " + ", ".join(f"{k} {n}/{m['seeds']}" for k, n in alone.items()) + ")"
        vals = [name, cell(m, "heldout", ".3f"), cell(m, "relearn_related", ".3f"), cell(m, "relearn_part", ".3f"),
                cell(m, "privleak", "+.1f"), cell(m, "distinguish", ".3f"), cell(m, "r_rl_ratio", ".3f"),
                verdict + (f" vs {m['gold']}" if ok is not None and m["gold"] != "retrain" else "")]
        lines.append(" ".join(f"{v:<{w}}" for v, (_, w) in zip(vals, cols)))
    return "\n".join(lines)
