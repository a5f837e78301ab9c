"""`memoryd graph ...`: knowledge-graph stats, communities, one memory's links, export,
plot, rebuild (`memoryd bench graph` is in cli/bench.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from . import app
from ._common import JsonOpt, console, emit, get_app, handles_errors, print_figures

graph_app = typer.Typer(help="Knowledge graph: entities, similarity links, Leiden communities.", no_args_is_help=True)
app.add_typer(graph_app, name="graph")


@graph_app.command("stats")
@handles_errors
def graph_stats(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """Counts of entities, links and communities; when the graph was last re-clustered."""
    data = get_app(ctx, read_only=True).graph.stats()
    emit(data, as_json, lambda: print_figures(data))


@graph_app.command("communities")
@handles_errors
def graph_communities(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", "-l", help="Most communities to list, largest first."),
    as_json: bool = JsonOpt,
) -> None:
    """Communities of related memories, largest first, labelled by their most distinctive terms."""
    items = [c.to_dict() for c in get_app(ctx, read_only=True).graph.communities(limit=limit)]

    def human() -> None:
        t = Table("id", "size", "label")
        for c in items:
            t.add_row(str(c["id"]), str(c["size"]), c["label"])
        console.print(t)

    emit(items, as_json, human)


@graph_app.command("community")
@handles_errors
def graph_community(
    ctx: typer.Context,
    community_id: int = typer.Argument(..., help="Community id (from `memoryd graph communities`)."),
    limit: int = typer.Option(20, "--limit", "-l", help="Most members to list."),
    as_json: bool = JsonOpt,
) -> None:
    """One community: its label, size and first members."""
    data = get_app(ctx, read_only=True).graph.community(community_id, limit=limit)

    def human() -> None:
        console.print(f"community {data['id']} ({data['size']} memories): {data['label']}")
        for m in data["members"]:
            console.print(f"  {m['id']}  {m['content'][:100]}")

    emit(data, as_json, human)


@graph_app.command("show")
@handles_errors
def graph_show(
    ctx: typer.Context,
    memory_id: str = typer.Argument(..., help="Memory id."),
    limit: int = typer.Option(10, "--limit", "-l", help="Most related memories to list."),
    as_json: bool = JsonOpt,
) -> None:
    """A memory's entities, community and strongest links."""
    data = get_app(ctx, read_only=True).graph.show(memory_id, limit=limit)

    def human() -> None:
        console.print(f"{data['id']}  [{data['namespace']}]  {data['content']}")
        c = data["community"]
        console.print(f"community: {c['id']} ({c['size']} memories): {c['label']}" if c else "community: none")
        console.print("entities: " + (", ".join(f"{e['kind']}:{e['value']} ({e['mentions']})"
                                                for e in data["entities"]) or "none"))
        t = Table("id", "weight", "via", "memory")
        for r in data["related"]:
            t.add_row(r["id"], f"{r['weight']:.2f}", r["via"] + (f" ({', '.join(r['entities'])})" if r["entities"] else ""),
                      r["content"][:80])
        console.print(t)

    emit(data, as_json, human)


@graph_app.command("export")
@handles_errors
def graph_export(
    ctx: typer.Context,
    fmt: str = typer.Option("json", "--format", "-f", help="graphml or json."),
    out: Path = typer.Option(None, "--out", "-o", help="File to write (default: JSON to stdout; GraphML needs --out)."),
    as_json: bool = JsonOpt,
) -> None:
    """Export the graph: memory ids, link weights, communities and labels (never memory text)."""
    graph = get_app(ctx, read_only=True).graph
    if out is None:
        if fmt != "json":
            from ..errors import ValidationError

            raise ValidationError("GraphML export needs --out FILE")
        emit(graph.export_dict(), True, lambda: None)
        return
    # registered before it is written: every erasure rewrites it without the erased memories
    data = get_app(ctx, read_only=True).erasure.track_file(out, "graph-json" if fmt == "json" else "graphml",
                                                           lambda: _writing(out, lambda: graph.export(out, fmt)))
    emit(data, as_json, lambda: console.print(
        f"wrote {data['path']}: {data['nodes']} memories, {data['edges']} edges, {data['communities']} communities"))


def _writing(out: Path, write):
    """Run `write()`, which writes `out`: a path it cannot write (a directory, no permission)
    is a clear error, not a traceback."""
    from ..errors import ValidationError

    try:
        return write()
    except OSError as exc:
        raise ValidationError(f"cannot write {out}: {exc.strerror or exc}") from None


@graph_app.command("plot")
@handles_errors
def graph_plot(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="PNG file to write."),
    labels: int = typer.Option(12, "--labels", help="Label this many of the largest communities."),
    as_json: bool = JsonOpt,
) -> None:
    """Draw the communities to a PNG (largest 20 coloured, the rest grey)."""
    app_ = get_app(ctx, read_only=True)  # registered: labels are words of memories, so erasures shred the plot
    data = app_.erasure.track_file(out, "plot", lambda: _writing(out, lambda: app_.graph.plot(out, max_labels=labels)))
    emit(data, as_json, lambda: console.print(
        f"wrote {data['path']}: {data['nodes']} memories, {data['communities']} communities"))


@graph_app.command("rebuild")
@handles_errors
def graph_rebuild(
    ctx: typer.Context,
    reextract: bool = typer.Option(False, "--reextract", help="Extract every memory's entities again (after an extractor upgrade)."),
    as_json: bool = JsonOpt,
) -> None:
    """Recompute kNN links, Leiden communities and labels from scratch (also runs by itself
    in the background once enough has changed)."""
    rep = get_app(ctx, read_only=True).graph.rebuild(reextract=reextract).to_dict()
    emit(rep, as_json, lambda: print_figures(rep))
