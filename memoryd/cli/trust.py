"""trust show|explain|verify|vouch|flag|sweep, feedback, quarantine list|release|purge."""

from __future__ import annotations

import typer
from rich.table import Table

from ..errors import TrustError
from . import app
from ._common import JsonOpt, console, emit, err_console, fmt_time, get_app, handles_errors

trust_app = typer.Typer(help="Provenance trust: agents' scores, the evidence log, operator vouch/flag.",
                        no_args_is_help=True)
quarantine_app = typer.Typer(help="Memories hidden from recall because their trust is too low.",
                             no_args_is_help=True)
app.add_typer(trust_app, name="trust")
app.add_typer(quarantine_app, name="quarantine")


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


@trust_app.command("show")
@handles_errors
def show(
    ctx: typer.Context,
    agent: str = typer.Argument(None, help="One agent (default: every agent, lowest trust first)."),
    as_json: bool = JsonOpt,
) -> None:
    """Trust of agents: Beta mean, lower bound, memories, quarantined memories, and why."""
    trust = get_app(ctx, read_only=True).trust
    if agent is not None:
        a = trust.agent(agent)

        def one() -> None:
            console.print(f"[bold]{a.agent_id}[/bold]  trust {a.score.mean:.3f}  (lower bound {a.score.lower_bound:.3f},"
                          f" alpha {a.score.alpha:.2f}, beta {a.score.beta:.2f})")
            console.print(f"  since {fmt_time(a.created_at)}; {a.memories} memories, {a.quarantined} quarantined,"
                          f" {a.score.n} evidence records")
            for r in a.score.reasons:
                console.print(f"  - {r}", markup=False)

        emit(a.to_dict(), as_json, one)
        return
    agents = sorted(trust.agents(), key=lambda a: (a.score.mean, a.agent_id))

    def table() -> None:
        if not agents:
            console.print("no agents yet")
            return
        t = Table("agent", "trust", "lower", "memories", "quarantined", "evidence", "since")
        for a in agents:
            t.add_row(a.agent_id, f"{a.score.mean:.3f}", f"{a.score.lower_bound:.3f}", str(a.memories),
                      str(a.quarantined), str(a.score.n), fmt_time(a.created_at))
        console.print(t)

    emit([a.to_dict() for a in agents], as_json, table)


@trust_app.command("explain")
@handles_errors
def explain(
    ctx: typer.Context,
    subject: str = typer.Argument(..., help="An agent id or a memory id."),
    limit: int = typer.Option(50, "--limit", "-k", help="Most evidence records to list (newest first)."),
    as_json: bool = JsonOpt,
) -> None:
    """Why an agent or a memory has the trust it has: every piece of evidence, its tier
    (moves trust / ranking only / ignored) and how to undo a quarantine."""
    from ..services.trust.explain import explain as run_explain  # noqa: PLC0415

    e = run_explain(get_app(ctx, read_only=True).trust, subject, limit=limit)

    def human() -> None:
        head = f"[bold]{e.subject_type} {e.subject}[/bold]  trust {e.trust:.3f}"
        if e.ranking_penalty:
            head += f"  ranking -{100 * e.ranking_penalty:.0f}%"
        if e.quarantined:
            head += "  [red]QUARANTINED[/red]"
        console.print(head)
        console.print(f"  {e.verdict}", markup=False)
        for r in e.summary:
            console.print(f"  - {r}", markup=False)
        if not e.evidence:
            console.print("  no evidence recorded")
            return
        t = Table("when", "evidence", "strength", "source", "effect")
        for r in e.evidence:
            t.add_row(r["at"], f"{r['kind']}: {r['what']}", f"{r['strength']:.2f}", r["source"], r["effect"])
        console.print(t)

    emit(e.to_dict(), as_json, human)


@trust_app.command("verify")
@handles_errors
def verify(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """Check the evidence log's keyed hash chain and sealed head; exits non-zero when tampered."""
    v = get_app(ctx, read_only=True).trust.verify()

    def human() -> None:
        if v.ok:
            console.print(f"[green]ok[/green]  evidence log intact: {v.count} records, head matches")
        else:
            console.print(f"[red]TAMPERED[/red]  {v.reason}"
                          + (f" (record {v.first_bad_seq})" if v.first_bad_seq else ""))

    emit(v.to_dict(), as_json, human)
    if not v.ok:
        raise typer.Exit(TrustError.exit_code)


def _operator(ctx: typer.Context, agent: str, as_json: bool, flag: bool) -> None:
    trust = get_app(ctx).trust
    score = trust.flag(agent) if flag else trust.vouch(agent)
    data = {"agent": agent, "action": "flag" if flag else "vouch", "trust": round(score.mean, 4)}
    emit(data, as_json, lambda: console.print(f"{'flagged' if flag else 'vouched for'} {agent}: trust now {score.mean:.3f}"))


@trust_app.command("vouch")
@handles_errors
def vouch(ctx: typer.Context, agent: str = typer.Argument(..., help="Agent id."), as_json: bool = JsonOpt) -> None:
    """Operator vouches for an agent (strong positive evidence, exempt from the age ramp)."""
    _operator(ctx, agent, as_json, flag=False)


@trust_app.command("flag")
@handles_errors
def flag(ctx: typer.Context, agent: str = typer.Argument(..., help="Agent id."), as_json: bool = JsonOpt) -> None:
    """Operator flags an agent as bad: erases its earlier positive record; its memories sink."""
    _operator(ctx, agent, as_json, flag=True)


@trust_app.command("sweep")
@handles_errors
def sweep(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """Run the probation sweep now (writes normally trigger it every few minutes)."""
    n = get_app(ctx, read_only=True).trust.sweep()
    emit({"accepted": n}, as_json, lambda: console.print(f"{n} writes passed probation"))


@app.command("feedback")
@handles_errors
def feedback(
    ctx: typer.Context,
    memory_id: str = typer.Argument(..., help="Memory id."),
    verdict: str = typer.Argument(..., help="useful, wrong or harmful."),
    note: str = typer.Option(None, "--note", help="Optional short reason (kept with the feedback, never in the evidence log)."),
    as_json: bool = JsonOpt,
) -> None:
    """Tell memoryd (as the operator) that a memory was useful, wrong or harmful."""
    app_ = get_app(ctx, read_only=True)
    ev = app_.trust.feedback(memory_id, verdict, note=note)
    mt = app_.trust.memory_trust(memory_id)
    data = {**ev.to_dict(), "trust": round(mt.mean, 4), "quarantined": mt.quarantined}
    emit(data, as_json, lambda: console.print(
        f"recorded {verdict} for {memory_id}: trust now {mt.mean:.3f}{' (quarantined)' if mt.quarantined else ''}"))


@quarantine_app.command("list")
@handles_errors
def q_list(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """Memories recall leaves out, lowest trust first, with why in words (content evidence,
    an operator flag, or an author with many poisoned writes)."""
    items = get_app(ctx, read_only=True).trust.quarantined()

    def human() -> None:
        if not items:
            console.print("nothing in quarantine")
            return
        t = Table()
        t.add_column("id", no_wrap=True)  # ids are copied into `quarantine release`: never wrapped
        for col in ("trust", "agent", "why", "memory"):
            t.add_column(col)
        for q in items:
            t.add_row(q.memory.id, f"{q.trust.mean:.3f}", q.memory.provenance.agent_id, q.trust.reason,
                      _clip(q.memory.content, 60))
        console.print(t)
        err_console.print("details: memoryd trust explain ID; undo: memoryd quarantine release ID")

    emit([q.to_dict() for q in items], as_json, human)


@quarantine_app.command("release")
@handles_errors
def q_release(ctx: typer.Context, memory_id: str = typer.Argument(..., help="Memory id."), as_json: bool = JsonOpt) -> None:
    """Let recall return this memory again (recorded as an operator vouch on it)."""
    mt = get_app(ctx, read_only=True).trust.release(memory_id)
    emit(mt.to_dict(), as_json, lambda: console.print(f"released {memory_id}: trust {mt.mean:.3f}"))


@quarantine_app.command("purge")
@handles_errors
def q_purge(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", help="Really delete them (without it: only list what would go)."),
    as_json: bool = JsonOpt,
) -> None:
    """Erase every quarantined memory through the erasure service (rows, full-text index,
    vectors, graph and model-ledger entries; sealed receipt). Dry run without --yes."""
    trust = get_app(ctx, read_only=True).trust
    if not yes:
        items = trust.quarantined()
        data = {"dry_run": True, "would_delete": [q.memory.id for q in items], "deleted": []}

        def human() -> None:
            for q in items:
                console.print(f"would delete {q.memory.id}  trust {q.trust.mean:.3f}  {_clip(q.memory.content, 60)}", markup=False)
            err_console.print(f"{len(items)} quarantined memories; re-run with --yes to delete them")

        emit(data, as_json, human)
        return
    app_ = get_app(ctx, read_only=True)
    res = app_.trust.purge(erasure=app_.erasure)  # erased like a GDPR request: derived stores too
    data = {"dry_run": False, "would_delete": [], **res.to_dict()}

    def human() -> None:
        console.print(f"deleted {len(res.deleted)} quarantined memories")
        if res.receipt is not None:
            console.print(f"erasure receipt {res.receipt.id}: {'verified' if res.receipt.ok else 'NOT verified'}")

    emit(data, as_json, human)
