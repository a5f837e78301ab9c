"""add, update, search, show, list, forget, stats, doctor, export."""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext as _nullcontext
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..errors import MemorydError, ValidationError
from ..models import NewMemory, Provenance, SearchFilters
from ..services.doctor import run_doctor, warm_model
from ..services.memories import SearchOptions
from ..services.porting import export_jsonl, parse_jsonl
from ..timeparse import parse_time
from ..validation import decode_utf8
from . import app
from ._bulk import import_with_progress
from ._common import (
    JsonOpt,
    console,
    emit,
    err_console,
    fmt_time,
    get_app,
    get_settings,
    handles_errors,
)


def _filters(namespace, tag, agent, kind, since, until) -> SearchFilters:
    return SearchFilters(
        namespaces=tuple(namespace) if namespace else None,
        tags=tuple(tag or ()),
        agent_id=agent,
        kind=kind,
        since=parse_time(since, now=time.time(), what="--since"),
        until=parse_time(until, now=time.time(), what="--until"),
    )


@app.command()
@handles_errors
def add(
    ctx: typer.Context,
    text: str = typer.Argument(None, help="Memory text. Omit to read it from stdin."),
    tag: list[str] = typer.Option(None, "--tag", "-t", help="Tag (repeatable)."),
    namespace: str = typer.Option("default", "--namespace", "-n", help="Namespace / project."),
    kind: str = typer.Option("note", "--kind", help="Kind of memory (note, fact, decision, ...)."),
    importance: float = typer.Option(0.5, "--importance", help="0..1"),
    source: str = typer.Option(None, "--source", help="Where this came from (file, URL, ...)."),
    jsonl: Path = typer.Option(None, "--jsonl", help="Import a JSONL file ('-' for stdin): one object per line with 'content' and optional tags, namespace, kind, importance, source, created_at."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="With --jsonl: skip bad lines instead of importing nothing."),
    as_json: bool = JsonOpt,
) -> None:
    """Store a memory (text argument or stdin), or import many from JSONL with a progress bar."""
    app_ = get_app(ctx)
    prov = Provenance(agent_id=app_.settings.agent_id, tool="cli", source=source)
    if jsonl is not None:
        raw = sys.stdin.buffer.read() if str(jsonl) == "-" else _read_bytes(jsonl)
        items, errors = parse_jsonl(raw, default_provenance=prov, max_bytes=app_.settings.max_content_bytes)
        if errors and not skip_invalid:
            shown = "; ".join(f"line {ln}: {msg}" for ln, msg in errors[:5])
            more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
            raise ValidationError(f"{len(errors)} invalid line(s), nothing imported: {shown}{more}")
        results = import_with_progress(app_, items, quiet=as_json)
        new = sum(1 for r in results if not r.duplicate)
        data = {"imported": new, "duplicates": len(results) - new, "skipped": len(errors),
                "errors": [{"line": ln, "error": m} for ln, m in errors]}
        emit(data, as_json, lambda: console.print(
            f"imported {new} memories ({len(results) - new} duplicates, {len(errors)} skipped)"))
        return
    if text is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise ValidationError("no text given: pass it as an argument or pipe it on stdin")
        text = decode_utf8(sys.stdin.buffer.read(), "stdin")
    new = NewMemory(content=text, kind=kind, tags=tuple(tag or ()), namespace=namespace,
                    importance=importance, provenance=prov)
    res = app_.memories.remember(new)
    data = {**res.memory.to_dict(), "duplicate": res.duplicate}
    if res.similar is not None:
        data["similar"] = {"id": res.similar.id, "similarity": res.similarity}

    def human() -> None:
        console.print(f"{'already stored' if res.duplicate else 'stored'} {res.memory.id}")
        if res.similar is not None:
            err_console.print(f"nearly the same as {res.similar.id} (cosine {res.similarity:.2f}): to replace it "
                              f"instead, `memoryd forget {res.memory.id}` and `memoryd update {res.similar.id} ...`")

    emit(data, as_json, human)


@app.command()
@handles_errors
def update(
    ctx: typer.Context,
    memory_id: str = typer.Argument(..., help="Id of the memory to replace."),
    text: str = typer.Argument(None, help="The new text. Omit to read it from stdin."),
    tag: list[str] = typer.Option(None, "--tag", "-t", help="Tags of the new version (default: the old ones)."),
    as_json: bool = JsonOpt,
) -> None:
    """Replace a memory with a new version (supersede): the old one is kept (`show`) but leaves search."""
    app_ = get_app(ctx, read_only=True)
    old = app_.memories.get(memory_id)
    if text is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise ValidationError("no text given: pass it as an argument or pipe it on stdin")
        text = decode_utf8(sys.stdin.buffer.read(), "stdin")
    new = NewMemory(content=text, kind=old.kind, tags=tuple(tag) if tag else old.tags, namespace=old.namespace,
                    importance=old.importance,
                    provenance=Provenance(agent_id=app_.settings.agent_id, tool="cli", source=old.provenance.source))
    res = app_.memories.remember(new, supersedes=old.id)
    data = {**res.memory.to_dict(), "duplicate": res.duplicate, "supersedes": res.supersedes}
    emit(data, as_json, lambda: console.print(f"stored {res.memory.id}; it supersedes {old.id}"))


@app.command()
@handles_errors
def retag(
    ctx: typer.Context,
    memory_id: str = typer.Argument(..., help="Id of the memory."),
    tags: list[str] = typer.Argument(None, help="Its new tags (none: remove every tag)."),
    as_json: bool = JsonOpt,
) -> None:
    """Replace a memory's tags; its text, id and history stay (to change the text, `update`)."""
    m = get_app(ctx, read_only=True).memories.set_tags(memory_id, tags or ())
    emit(m.to_dict(), as_json, lambda: console.print(f"{m.id}: tags {', '.join(m.tags) or '(none)'}"))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from None


@app.command()
@handles_errors
def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="What to look for (any text; operators are not interpreted)."),
    limit: int = typer.Option(10, "--limit", "-k", help="How many results."),
    namespace: list[str] = typer.Option(None, "--namespace", "-n", help="Only these namespaces (repeatable)."),
    tag: list[str] = typer.Option(None, "--tag", "-t", help="Only memories with all these tags."),
    agent: str = typer.Option(None, "--agent", help="Only memories written by this agent."),
    kind: str = typer.Option(None, "--kind", help="Only this kind."),
    since: str = typer.Option(None, "--since", help="Created at/after: ISO date, POSIX time, or age like 7d."),
    until: str = typer.Option(None, "--until", help="Created at/before."),
    legs: str = typer.Option("bm25,vector", "--legs", help="Search legs to fuse: bm25, vector or both."),
    include_quarantined: bool = typer.Option(False, "--include-quarantined", help="Also show memories quarantined for low trust (marked)."),
    expand: bool = typer.Option(False, "--expand", help="Also fuse in knowledge-graph neighbours of the top hits."),
    as_json: bool = JsonOpt,
) -> None:
    """Hybrid search (BM25 + vectors, fused by relative score), trust-weighted, best first."""
    app_ = get_app(ctx, read_only=True)
    opts = SearchOptions(limit=limit, legs=tuple(x.strip() for x in legs.split(",") if x.strip()),
                         include_quarantined=include_quarantined, expand=expand)
    hits = app_.memories.search(query, _filters(namespace, tag, agent, kind, since, until), opts)

    def human() -> None:
        if not hits:
            console.print("no matches")
            return
        for i, h in enumerate(hits, 1):
            console.print(f"[bold]{i}.[/bold] {h.memory.id}  score {h.score:.4f}  ns={h.memory.namespace}  {fmt_time(h.memory.created_at)}  [dim]{h.why}[/dim]")
            console.print("   " + _clip(h.memory.content, 300), markup=False)

    emit([h.to_dict() for h in hits], as_json, human)


def _clip(s: str, n: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


@app.command()
@handles_errors
def show(ctx: typer.Context, memory_id: str = typer.Argument(..., help="Memory id."), as_json: bool = JsonOpt) -> None:
    """Show one memory with its provenance (and the memory that replaced it, if any)."""
    svc = get_app(ctx, read_only=True).memories
    m = svc.get(memory_id)
    newer = svc.superseded_by(m.id)

    def human() -> None:
        console.print(f"[bold]{m.id}[/bold]  {m.kind}  ns={m.namespace}  importance={m.importance}")
        console.print(f"created {fmt_time(m.created_at)}  by agent={m.provenance.agent_id}"
                      f" tool={m.provenance.tool} source={m.provenance.source}")
        if m.tags:
            console.print("tags: " + ", ".join(m.tags))
        if newer:
            console.print(f"superseded by {newer} (search returns that one)")
        console.print(m.content, markup=False)

    emit({**m.to_dict(), "superseded_by": newer}, as_json, human)


@app.command("list")
@handles_errors
def list_(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", "-k"),
    offset: int = typer.Option(0, "--offset"),
    namespace: list[str] = typer.Option(None, "--namespace", "-n"),
    tag: list[str] = typer.Option(None, "--tag", "-t"),
    agent: str = typer.Option(None, "--agent"),
    kind: str = typer.Option(None, "--kind"),
    since: str = typer.Option(None, "--since"),
    until: str = typer.Option(None, "--until"),
    as_json: bool = JsonOpt,
) -> None:
    """List memories, newest first."""
    mems = get_app(ctx, read_only=True).memories.list(_filters(namespace, tag, agent, kind, since, until), limit, offset)

    def human() -> None:
        t = Table("id", "created", "ns", "agent", "memory")
        for m in mems:
            t.add_row(m.id, fmt_time(m.created_at), m.namespace, m.provenance.agent_id, _clip(m.content, 70))
        console.print(t)

    emit([m.to_dict() for m in mems], as_json, human)


@app.command()
@handles_errors
def forget(ctx: typer.Context, memory_id: list[str] = typer.Argument(..., help="Memory id(s)."), as_json: bool = JsonOpt) -> None:
    """Delete memories from the rows, the full-text index and the vectors."""
    gone = get_app(ctx, read_only=True).forgetting.forget(memory_id)  # the same use case as the MCP tool
    emit({"forgotten": [m.id for m in gone]}, as_json,
         lambda: console.print(f"forgot {len(gone)} memor{'y' if len(gone) == 1 else 'ies'}"))


@app.command()
@handles_errors
def stats(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """Counts per namespace and agent, database size."""
    s = get_app(ctx, read_only=True).stats()

    def human() -> None:
        console.print(f"memories: {s.memories}   vectors: {s.vectors}   schema: v{s.schema_version}")
        console.print(f"database: {s.db_bytes:,} bytes (+ WAL {s.wal_bytes:,})")
        for ns, n in s.namespaces.items():
            console.print(f"  namespace {ns}: {n}")
        for a, n in s.agents.items():
            console.print(f"  agent {a}: {n}")

    emit(s.to_dict(), as_json, human)


@app.command()
@handles_errors
def reindex(
    ctx: typer.Context,
    graph: bool = typer.Option(True, "--graph/--no-graph", help="Re-cluster the knowledge graph afterwards "
                               "(its similarity links come from the vectors)."),
    as_json: bool = JsonOpt,
) -> None:
    """Re-embed memories whose vector is missing or was made by another model (after changing --model)."""
    from ..services.reindex import reindex as run_reindex

    app_ = get_app(ctx, read_only=True)
    if as_json:
        report = run_reindex(app_.memories)
    else:
        with Progress(TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err_console, transient=True) as prog:
            task = prog.add_task("reindex", total=None)
            report = run_reindex(app_.memories, progress=lambda done, todo: prog.update(task, completed=done,
                                                                                          total=todo))
    out = report.to_dict()
    if graph and report.reembedded:
        out["graph"] = app_.graph.rebuild().to_dict()
    emit(out, as_json, lambda: console.print(
        f"re-embedded {report.reembedded} of {report.memories} memories with {report.model} "
        f"({report.per_s}/s){'; graph re-clustered' if 'graph' in out else ''}"))


@app.command("distill-embedder")
@handles_errors
def distill_embedder(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", "-o", help="Directory to write the static model to."),
    dims: int = typer.Option(256, "--dims", help="Vector dimensions kept by PCA."),
    force: bool = typer.Option(False, "--force", help="Replace --out if it exists."),
    as_json: bool = JsonOpt,
) -> None:
    """Distill the embedding model into a static one (model2vec): ~5x faster ingest; use it with --model OUT."""
    from ..embedding.static import distill_static

    source = get_settings(ctx).resolved_model_path()
    with err_console.status("distilling (every vocabulary token through the model once)", spinner="dots") \
            if not as_json else _nullcontext():
        report = distill_static(source, out, dims=dims, force=force)
    emit(report.to_dict(), as_json, lambda: console.print(
        f"static model ({report.vocabulary} tokens, dim {report.dims}) written to {report.out} in "
        f"{report.seconds}s. Use it with: memoryd --model {report.out} …, then `memoryd reindex`"))


_WARM_HELP = ("First load the embedding model and do the one-off ONNX export into the cache, so that `serve` "
              "and the first search start fast.")


@app.command()
@handles_errors
def doctor(
    ctx: typer.Context,
    warm: bool = typer.Option(False, "--warm", help=_WARM_HELP),
    as_json: bool = JsonOpt,
) -> None:
    """Check the model, the database, its pragmas, migrations and index consistency."""
    app_ = get_app(ctx, read_only=True)  # a typo in --db is reported, not created (--warm too)
    warmed = warm_model(app_) if warm else None
    checks = run_doctor(app_)
    ok = all(c["ok"] for c in checks if c.get("level") != "warning")  # a warning does not fail doctor

    def human() -> None:
        if warmed is not None:
            what = f"exported to {warmed['onnx_graph']}" if warmed["exported_now"] else \
                (f"cached in {warmed['onnx_graph']}" if warmed["onnx_graph"] else f"on {warmed['backend']}")
            console.print(f"[green]ok[/green]   warm: {warmed['model']} {what} ({warmed['seconds']}s)")
        for c in checks:
            mark = "[green]ok[/green]  " if c["ok"] else ("[yellow]WARN[/yellow]" if c.get("level") == "warning"
                                                      else "[red]FAIL[/red]")
            console.print(f"{mark} {c['check']}: {c['detail']}")

    data: dict = {"ok": ok, "warnings": sum(1 for c in checks if c.get("level") == "warning" and not c["ok"]),
                  "checks": checks}
    if warmed is not None:
        data["warm"] = warmed
    emit(data, as_json, human)
    if not ok:
        raise typer.Exit(1)


@app.command()
@handles_errors
def export(
    ctx: typer.Context,
    out: Path = typer.Option(None, "--out", "-o", help="Write JSONL here (default: stdout)."),
    namespace: list[str] = typer.Option(None, "--namespace", "-n"),
    subject: list[str] = typer.Option(None, "--subject", "-s",
                                      help="Only what is about this data subject, as one JSON document with why each "
                                           "memory matched (GDPR Art. 15/20; same as `subject export`). Repeatable."),
    as_json: bool = JsonOpt,
) -> None:
    """Export memories as JSONL (one memory per line), or a data subject's memories as JSON."""
    app_ = get_app(ctx, read_only=True)
    if subject:
        if namespace:
            raise ValidationError("--subject exports everything about the subject; drop --namespace")
        from .erase import write_subject_export  # noqa: PLC0415 - erase registers after this module

        write_subject_export(ctx, subject, out, as_json)
        return
    filters = SearchFilters(namespaces=tuple(namespace) if namespace else None)
    if out is None:
        try:
            n = export_jsonl(app_, sys.stdout, filters)
        except BrokenPipeError:
            raise  # the reader stopped early (`| head`): click exits quietly
        except OSError as exc:  # a full disk or device behind the redirection
            raise MemorydError(f"cannot write the export to stdout: {exc.strerror or exc}") from None
        return
    n = export_jsonl(app_, out, filters)
    emit({"exported": n, "path": str(out)}, as_json, lambda: console.print(f"exported {n} memories to {out}"))
