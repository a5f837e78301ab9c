"""`memoryd erase ...` (GDPR Art. 17) and `memoryd subject export` (Art. 15 / 20)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from ..erasure.models import GROUNDS, ErasurePlan, ErasureReceipt, ErasureRequest
from ..errors import NotFoundError
from ..services.erasure import VACUUM_POLICIES
from . import app
from ._common import JsonOpt, console, emit, err_console, fmt_time, get_app, handles_errors

erase_app = typer.Typer(
    help="GDPR erasure (Art. 17): dry run by default, --yes to erase; receipts and their verification.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(erase_app, name="erase")

subject_app = typer.Typer(help="Data subject rights: access and portability (GDPR Art. 15 / 20).",
                          no_args_is_help=True)
app.add_typer(subject_app, name="subject")


@erase_app.callback()
@handles_errors
def erase(
    ctx: typer.Context,
    memory_id: list[str] = typer.Option(None, "--id", help="Erase this memory (repeatable)."),
    subject: list[str] = typer.Option(None, "--subject", "-s",
                                      help="Erase everything about a person: name, e-mail, @handle, phone or other identifier (repeatable)."),
    agent: list[str] = typer.Option(None, "--agent", help="Erase every memory written by this agent (repeatable)."),
    namespace: list[str] = typer.Option(None, "--namespace", "-n", help="Erase every memory in this namespace (repeatable)."),
    exclude: list[str] = typer.Option(None, "--exclude", help="Keep this memory id even if selected (after reviewing the dry run)."),
    ground: str = typer.Option(None, "--ground", help=f"Art. 17(1) ground: {', '.join(GROUNDS)}."),
    yes: bool = typer.Option(False, "--yes", help="Really erase (without it: dry run only)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be erased and why (the default; "
                                 "refused with --yes)."),
    vacuum: str = typer.Option("auto", "--vacuum", help=f"VACUUM after erasing: {', '.join(VACUUM_POLICIES)}."),
    field_hits: str = typer.Option("erase", "--field-hits",
                                   help="A subject named only in a memory's metadata (tag, source, session, kind, "
                                        "feedback note): 'erase' the memory (default) or 'redact' those values and keep it."),
    as_json: bool = JsonOpt,
) -> None:
    """Erase memories for an Art. 17 request. Without --yes, only list what would be erased and why."""
    if ctx.invoked_subcommand is not None:
        return
    if not (memory_id or subject or agent or namespace):
        console.print(ctx.get_help())
        raise typer.Exit(0)
    if dry_run and yes:
        raise typer.BadParameter("--dry-run and --yes contradict each other: leave out --yes to only list")
    svc = get_app(ctx, read_only=True).erasure
    request = ErasureRequest(memory_ids=tuple(memory_id or ()), subjects=tuple(subject or ()),
                             agents=tuple(agent or ()), namespaces=tuple(namespace or ()),
                             exclude_ids=tuple(exclude or ()), ground=ground, field_hits=field_hits)
    plan = svc.plan(request)
    if not yes:
        emit(plan.to_dict(), as_json, lambda: _print_plan(plan))
        return
    receipt = svc.execute(plan, confirm=True, vacuum=vacuum)
    if receipt.body.get("status") == "incomplete" and receipt.body.get("hooks", {}).get("ledger", {}).get("pending"):
        err_console.print("editing the local models that absorbed these memories (outside the database lock)...")
        get_app(ctx).models.wait_for_edits()  # the edit seals the receipt when it is verified
        receipt = _sealed(svc, receipt)
    emit(receipt.to_dict(), as_json, lambda: _print_done(receipt))
    if not receipt.ok:
        raise typer.Exit(1)


def _sealed(svc, receipt: ErasureReceipt) -> ErasureReceipt:
    try:
        return svc.receipt(receipt.id)
    except NotFoundError:
        return receipt  # still pending: `memoryd erase receipts` lists it as incomplete


def _print_plan(plan: ErasurePlan) -> None:
    if plan.items:
        t = Table("id", "created", "ns", "agent", "memory", "why", title="would be erased", show_lines=True)
        t.columns[0].no_wrap = True
        for i in plan.items:
            t.add_row(i.memory_id, fmt_time(i.created_at), i.namespace, i.agent_id, i.preview, "\n".join(i.reasons))
        console.print(t)
    if plan.redactions:
        t = Table("id", "memory", "fields", "why", title="kept, with these metadata values removed (--field-hits redact)",
                  show_lines=True)
        t.columns[0].no_wrap = True
        for i in plan.redactions:
            t.add_row(i.memory_id, i.preview, ", ".join(sorted({f for f, _ in i.fields})), "\n".join(i.reasons))
        console.print(t)
    if plan.near_misses:
        t = Table("id", "memory", "why listed", title="near misses: NOT erased (add with --id if they are the subject's)",
                  show_lines=True)
        t.columns[0].no_wrap = True
        for i in plan.near_misses:
            t.add_row(i.memory_id, i.preview, "\n".join(i.reasons))
        console.print(t)
    for n in plan.notes:
        console.print(f"note: {n}")
    n = len(plan.items)
    red = f", {len(plan.redactions)} redacted" if plan.redactions else ""
    console.print(f"dry run: nothing erased. {n} memor{'y' if n == 1 else 'ies'} would be erased{red}; "
                  "re-run with --yes to erase them.")


def _print_done(r: ErasureReceipt) -> None:
    v = r.body.get("verification", {})
    if r.body.get("status") == "incomplete":
        console.print(f"[red]INCOMPLETE[/red]: erased {r.body.get('counts', {}).get('memories', 0)} memories, but "
                      f"{r.body.get('reason')}; request {r.id} stays pending and is retried "
                      "(`memoryd erase resume`, or on the next start)")
        return
    mark = "[green]verified[/green]" if v.get("ok") else "[red]NOT verified[/red]"
    red = r.body.get("counts", {}).get("memories_redacted")
    more = f", redacted metadata of {red}" if red else ""
    console.print(f"erased {r.body.get('counts', {}).get('memories', 0)} memories{more}; receipt {r.id} ({mark})")
    console.print(f"see: memoryd erase receipt {r.id}")


@erase_app.command("receipts")
@handles_errors
def receipts(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """List erasure receipts (oldest first), then requests still incomplete (pending, retried)."""
    rows = get_app(ctx, read_only=True).erasure.receipts()

    def human() -> None:
        if not rows:
            console.print("no erasure receipts")
            return
        t = Table("#", "receipt", "completed", "memories", "selectors", "status")
        t.columns[1].no_wrap = True
        for r in rows:
            status = r.get("status") or ("verified" if r["verified"] else "failed")
            if status == "incomplete":
                status = f"INCOMPLETE ({r.get('attempts', 0)} attempts: {r.get('reason') or 'not started'})"
            t.add_row(str(r["seq"] or "-"), r["id"], fmt_time(r["completed_at"]) if r["completed_at"] else "-",
                      str(r["memories"]), ", ".join(r["selectors"]), status)
        console.print(t)

    emit(rows, as_json, human)


@erase_app.command("receipt")
@handles_errors
def receipt(
    ctx: typer.Context,
    receipt_id: str = typer.Argument(..., help="Receipt id."),
    fmt: str = typer.Option("text", "--format", help="text (a report for the data subject) or json."),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
) -> None:
    """Show one receipt: as a readable report, or as JSON."""
    if fmt not in ("text", "json"):
        raise typer.BadParameter("--format must be text or json")
    r = get_app(ctx, read_only=True).erasure.receipt(receipt_id)
    if fmt == "json" or as_json:
        sys.stdout.write(json.dumps(r.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(r.to_text())


@erase_app.command("verify")
@handles_errors
def verify(
    ctx: typer.Context,
    receipt_id: str = typer.Argument(..., help="Receipt id."),
    subject: str = typer.Option(None, "--subject", "-s", help="Also check that this identifier was in the request's scope."),
    no_scan: bool = typer.Option(False, "--no-scan", help="Check the seals only, not the files."),
    as_json: bool = JsonOpt,
) -> None:
    """Re-check a receipt: audit chain, receipt MAC, and a forensic re-scan for its erased ids."""
    v = get_app(ctx, read_only=True).erasure.verify(receipt_id, scan=not no_scan, subject=subject)

    def human() -> None:
        def ok(b) -> str:
            return "[green]ok[/green]" if b else "[red]FAIL[/red]"
        console.print(f"audit chain ({v.chain_count} records): {ok(v.chain_ok)}"
                      + (f"  first bad record: {v.chain_first_bad_index + 1} ({v.chain_reason})" if not v.chain_ok
                         and v.chain_first_bad_index is not None else ""))
        console.print(f"receipt MAC: {ok(v.receipt_mac_ok)}   chain head seal: {ok(v.head_ok)}")
        if v.rows_remaining is not None:
            console.print(f"erased ids still in the table: {v.rows_remaining}")
        if v.id_scan is not None:
            console.print(f"erased ids in {v.id_scan['files']} files ({v.id_scan['bytes']:,} bytes): {v.id_scan['hits']}")
        if v.subject_in_scope is not None:
            console.print(f"subject in this request's scope: {'yes' if v.subject_in_scope else 'no'}")
        console.print("[green]VERIFIED[/green]" if v.ok else "[red]VERIFICATION FAILED[/red]")

    emit(v.to_dict(), as_json, human)
    if not v.ok:
        raise typer.Exit(1)


@erase_app.command("resume")
@handles_errors
def resume(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """Finish erasures interrupted by a crash (also done automatically on open)."""
    done = get_app(ctx, read_only=True).erasure.resume_pending()
    emit([r.to_dict() for r in done], as_json,
         lambda: console.print(f"resumed {len(done)} interrupted erasure(s)"
                               + "".join(f"\n  receipt {r.id}" for r in done)))


@subject_app.command("export")
@handles_errors
def subject_export(
    ctx: typer.Context,
    subject: list[str] = typer.Option(..., "--subject", "-s", help="Name, e-mail, @handle, phone or identifier (repeatable)."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the JSON here (registered: later erasures rewrite it). Default: stdout."),
    as_json: bool = JsonOpt,
) -> None:
    """Export every memory about a data subject as JSON, with why each matched (Art. 15 / 20)."""
    write_subject_export(ctx, subject, out, as_json)


def write_subject_export(ctx: typer.Context, subject: list[str], out: Path | None, as_json: bool) -> None:
    """Shared by `subject export` and `export --subject`."""
    data = get_app(ctx, read_only=True).erasure.subject_export(tuple(subject), out)
    if out is None:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    emit({"exported": data["count"], "path": str(out)}, as_json,
         lambda: console.print(f"exported {data['count']} memories about the subject to {out}"))
