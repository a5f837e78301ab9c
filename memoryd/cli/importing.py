"""import: memories from memoryd's export, the MCP memory server's memory.jsonl, or Markdown notes."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..errors import ValidationError
from ..models import Provenance
from . import app
from ._common import JsonOpt, console, emit, get_app, handles_errors
from ._bulk import import_with_progress
from .memories import _read_bytes


@app.command("import")
@handles_errors
def import_(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A JSONL file ('-' for stdin), a Markdown file or a folder of notes."),
    fmt: str = typer.Option("auto", "--from", help="auto, memoryd (its own `export` / `add --jsonl`), mcp-memory "
                                                    "(the official MCP memory server's memory.jsonl) or markdown."),
    split: str = typer.Option("note", "--split", help="markdown: one memory per 'note' or per 'section' (#, ##, ###)."),
    namespace: str = typer.Option(None, "--namespace", "-n", help="Put every memory in this namespace (default: "
                                                                  "the record's own, or 'default')."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Import the valid records and skip the bad "
                                                                    "ones (default: any bad record imports nothing)."),
    as_json: bool = JsonOpt,
) -> None:
    """Import memories from another memory store: all records or none (unless --skip-invalid)."""
    from ..services.importers import (FORMATS, detect_format, parse_markdown_dir, parse_mcp_memory_jsonl,
                                      parse_memoryd_jsonl)

    if fmt != "auto" and fmt not in FORMATS:
        raise ValidationError(f"--from must be auto or one of {', '.join(FORMATS)}, got {fmt!r}")
    stdin = str(path) == "-"
    if not stdin and not path.exists():
        raise ValidationError(f"{path} does not exist")
    raw = None
    if stdin:
        raw = sys.stdin.buffer.read()
    elif path.is_file() and not (fmt == "markdown" or (fmt == "auto" and path.suffix.lower() in (".md", ".markdown"))):
        raw = _read_bytes(path)
    kind = detect_format(path, raw) if fmt == "auto" else fmt
    app_ = get_app(ctx)
    prov = Provenance(agent_id=app_.settings.agent_id, tool="import",
                      source=None if kind != "mcp-memory" else f"mcp-memory:{path.name}")
    kw = dict(default_provenance=prov, max_bytes=app_.settings.max_content_bytes, namespace=namespace)
    if kind == "markdown":
        if stdin:
            raise ValidationError("markdown is read from a file or a folder, not stdin")
        items, errors = parse_markdown_dir(path, split=split, **kw)
    elif raw is None:
        raise ValidationError(f"{path} is a folder: use --from markdown, or give a JSONL file")
    elif kind == "mcp-memory":
        items, errors = parse_mcp_memory_jsonl(raw, **kw)
    else:
        items, errors = parse_memoryd_jsonl(raw, **kw)
    if errors and not skip_invalid:
        shown = "; ".join(f"{where}: {msg}" for where, msg in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ValidationError(f"{len(errors)} invalid record(s), nothing imported: {shown}{more} "
                              "(--skip-invalid imports the others)")
    results = import_with_progress(app_, items, quiet=as_json)
    new = sum(1 for r in results if not r.duplicate)
    data = {"format": kind, "imported": new, "duplicates": len(results) - new, "skipped": len(errors),
            "errors": [{"where": w, "error": m} for w, m in errors]}
    emit(data, as_json, lambda: console.print(
        f"imported {new} memories from {kind} ({len(results) - new} duplicates, {len(errors)} skipped)"))
