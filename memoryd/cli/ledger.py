"""`memoryd adapt` and `memoryd models list|show`: local model adaptation with a ledger of what
each version absorbed (docs/editing.md). `memoryd bench unlearn` is in cli/bench.py."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from . import app
from ._common import JsonOpt, console, emit, fmt_time, get_app, handles_errors, progress_bars

models_app = typer.Typer(help="Local models adapted on memories: the ledger of versions and erasure edits "
                              "(list, show, resume), and `complete` to query a served model (plain or routed).",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")


@app.command("adapt")
@handles_errors
def adapt(
    ctx: typer.Context,
    model: Path = typer.Option(..., "--model", help="Local Hugging Face causal LM directory to start from (never downloaded)."),
    out: Path = typer.Option(..., "--out", help="Directory to write the adapted model to (must be new or empty)."),
    memories: str = typer.Option(None, "--memories", "-q", help="Adapt on the memories this search query finds."),
    namespace: str = typer.Option(None, "--namespace", "-n", help="Adapt on this namespace (with --memories: filter the search)."),
    limit: int = typer.Option(100, "--limit", help="At most this many memories."),
    name: str = typer.Option(None, "--name", help="Model name in the ledger (default: the --out directory name)."),
    epochs: int = typer.Option(80, "--epochs", help="Maximum epochs (stops earlier once every fact is reproduced)."),
    lr: float = typer.Option(2e-3, "--lr", help="Learning rate."),
    batch_size: int = typer.Option(16, "--batch-size", help="Texts per optimiser step."),
    lora: bool = typer.Option(False, "--lora", help="Train LoRA adapters (peft), merged into the weights before saving."),
    lora_r: int = typer.Option(16, "--lora-r", help="LoRA rank."),
    shards: int = typer.Option(0, "--shards", help="Exact path: K LoRA adapters, one per shard of the memories, "
                               "served as a routed model (each prompt answered by the shard it is most likely "
                               "under); an erasure retrains only the shards that held the erased memories."),
    device: str = typer.Option("cpu", "--device", help="torch device, e.g. cpu or cuda."),
    as_json: bool = JsonOpt,
) -> None:
    """Fine-tune a local causal LM on selected memories and record in the ledger what it absorbed."""
    from ..editing import AdaptConfig

    cfg = AdaptConfig(max_epochs=epochs, lr=lr, batch_size=batch_size, lora=lora, lora_r=lora_r, device=device)
    svc = get_app(ctx, read_only=True).models
    with progress_bars(as_json) as cb:
        data = svc.adapt(model, out, query=memories, namespace=namespace, limit=limit, name=name, config=cfg,
                         progress=cb, shards=shards)

    def human() -> None:
        a = data["adapt"]
        console.print(f"model version {data['id']} ({data['name']}) at {data['path']}")
        console.print(f"adapted on {data['metrics']['memories']} memories in {a['epochs']} epochs "
                      f"({a['seconds']:.1f}s, loss {a['final_loss']:.4f}); {len(a['absorbed_ids'])} reproduced "
                      f"exactly, {len(a['not_absorbed_ids'])} not")
        console.print(f"ledger: {len(data['absorbed'])} memories recorded for this version")
        if "sharding" in data:
            sh = data["sharding"]
            console.print(f"shards: {sh['k']} adapters, memories per shard "
                          f"{', '.join(str(s['members']) for s in sh['shards'])}; served as a routed model "
                          f"(query it: memoryd models complete {data['name']} PROMPT)")

    emit(data, as_json, human)


@models_app.command("list")
@handles_errors
def models_list(
    ctx: typer.Context,
    status: str = typer.Option(None, "--status", help="Only versions with this status: active, superseded, weights_deleted."),
    as_json: bool = JsonOpt,
) -> None:
    """Model versions in the ledger, oldest first."""
    rows = get_app(ctx, read_only=True).models.list(status=status)

    def human() -> None:
        if not rows:
            console.print("no model versions (use `memoryd adapt`)")
            return
        t = Table("id", "name", "status", "method", "memories", "created", "path")
        for r in rows:
            t.add_row(r["id"], r["name"], r["status"], r["method"], str(r["absorbed"]), fmt_time(r["created_at"]),
                      r["path"])
        console.print(t)

    emit(rows, as_json, human)


@models_app.command("show")
@handles_errors
def models_show(
    ctx: typer.Context,
    version_id: str = typer.Argument(..., help="Model version id."),
    as_json: bool = JsonOpt,
) -> None:
    """One model version: where it is, what it absorbed, the erasure edits that made or replaced it."""
    data = get_app(ctx, read_only=True).models.show(version_id)

    def human() -> None:
        console.print(f"{data['id']}  {data['name']}  [{data['status']}]  {data['method']}")
        routed = f"; routed over {data['routed']} shards" if data.get("routed") else ""
        console.print(f"path: {data['path']} (weights {'present' if data['weights_present'] else 'absent'}; "
                      f"{'loadable' if data['loadable'] else 'not loadable'}{routed})")
        for j in data["edit_jobs"]:
            if j["state"] == "pending":
                console.print(f"edit job {j['id']}: pending ({j['n_memories']} erased memories), receipt "
                              f"{j['request_id'] or '-'}")
        console.print(f"base: {data['base']}  parent: {data['parent_id'] or '-'}  created {fmt_time(data['created_at'])}")
        for k, v in data["metrics"].items():
            if k != "verification":
                console.print(f"  {k}: {v}")
        states: dict[str, int] = {}
        for a in data["absorbed"]:
            states[a["memory"]] = states.get(a["memory"], 0) + 1
        console.print(f"absorbed memories: {len(data['absorbed'])} "
                      f"({', '.join(f'{n} {s}' for s, n in sorted(states.items())) or 'none'}); "
                      f"reproduced exactly: {sum(a['reproduced'] for a in data['absorbed'])}")
        for e in data["edits"]:
            r = e["report"]
            console.print(f"edit {e['id']}: {e['old_version']} -> {e['new_version'] or '(withdrawn)'} "
                          f"[{e['outcome']}], {e['n_erased']} memories, receipt {e['request_id'] or '-'}")
            if "forget_exact_after" in r:
                console.print(f"  forget exact {r['forget_exact_before']:.2f} -> {r['forget_exact_after']:.2f}, "
                              f"F-RL {r['forget_rouge_l_before']:.3f} -> {r['forget_rouge_l_after']:.3f}, "
                              f"R-RL {r['retain_rouge_l_before']:.3f} -> {r['retain_rouge_l_after']:.3f}, "
                              f"ppl {r['perplexity_before']:.2f} -> {r['perplexity_after']:.2f}")

    emit(data, as_json, human)


@models_app.command("complete")
@handles_errors
def models_complete(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Model version id, model name (its newest active version) or a local "
                                "model directory."),
    prompt: str = typer.Argument(..., help="Text to continue."),
    max_tokens: int = typer.Option(32, "--max-tokens", help="Most new tokens to generate."),
    as_json: bool = JsonOpt,
) -> None:
    """Greedy continuation of PROMPT by a served model; a routed model (`adapt --shards`) answers with
    the shard the prompt routes to, and says which. Refused while an erasure's edit of it is pending."""
    data = get_app(ctx, read_only=True).models.complete(model, prompt, max_tokens=max_tokens)

    def human() -> None:
        if data["routed"]:
            console.print(f"[dim]{data['model']}: shard {data['shard']} of {data['k']} answered[/dim]")
        console.print(f"{escape(data['prompt'])}[bold]{escape(data['completion'])}[/bold]")

    emit(data, as_json, human)


@models_app.command("resume")
@handles_errors
def models_resume(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """Run the model edits an interrupted process left pending (also done on open), then seal
    the erasure receipts that waited for them."""
    a = get_app(ctx, read_only=True)
    data = a.models.resume()
    data["receipts"] = [{"id": r.id, "status": r.body.get("status")} for r in a.erasure.resume_pending()]

    def human() -> None:
        console.print(f"model edits run: {data['jobs_done']}, still pending: {data['jobs_pending']}, "
                      f"versions promoted: {data['versions_promoted']}")
        for r in data["receipts"]:
            console.print(f"  receipt {r['id']}: {r['status']}")

    emit(data, as_json, human)
    if data["jobs_pending"]:
        raise typer.Exit(1)
