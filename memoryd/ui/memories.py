"""Memories: hybrid search with why each hit matched, filters, a paged list, one memory's
page (provenance, trust, feedback, graph neighbours), supersede, feedback and forget."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.routing import Route

from ..errors import ValidationError
from ..models import NewMemory, Provenance
from ..services.memories import SearchOptions
from .forms import PAGE_SIZE, filters_from, page_number, split_list
from .web import UI, timed

__all__ = ["routes"]

SEARCH_PAGE = 20
FILTER_KEYS = ("q", "namespace", "agent", "tag", "since", "until", "quarantined")


def routes(ui: UI) -> list[Route]:
    app = ui.app

    @ui.page()
    async def memories(request: Request):
        q = request.query_params
        query = (q.get("q") or "").strip()
        filters = filters_from(q)
        page = page_number(q)
        keep = {k: q.get(k) for k in FILTER_KEYS if q.get(k)}
        hits, rows, ms, more = [], [], None, False
        if query:
            opts = SearchOptions(limit=min(1000, SEARCH_PAGE * (page + 1) + 1),
                                 include_quarantined=bool(q.get("quarantined")))
            found, ms = await ui.call(timed(app.memories.search), query, filters, opts)
            hits = found[page * SEARCH_PAGE:(page + 1) * SEARCH_PAGE]
            more = len(found) > (page + 1) * SEARCH_PAGE
        else:
            found = await ui.call(app.memories.list, filters, PAGE_SIZE + 1, page * PAGE_SIZE)
            rows, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE

        def link(p: int) -> str:
            return "?" + urlencode({**keep, "page": p})

        return ui.render(request, "memories.html", query=query, hits=hits, rows=rows, ms=ms, q=keep,
                         page=page, prev_link=link(page - 1) if page else None,
                         next_link=link(page + 1) if more else None)

    def memory_data(mem_id: str) -> dict:
        m = app.memories.get(mem_id)
        return {"m": m, "superseded_by": app.memories.superseded_by(m.id),
                "trust": app.trust.memory_trust(m.id), "feedback": app.feedback.counts(m.id),
                "graph": app.graph.show(m.id, limit=10)}

    @ui.page()
    async def memory(request: Request):
        data = await ui.call(memory_data, request.path_params["id"])
        return ui.render(request, "memory.html", **data)

    @ui.page(post=True)
    async def supersede(request: Request):
        form = await request.form()
        text = (form.get("content") or "").strip()
        if not text:
            raise ValidationError("the new version needs text")

        def run():
            old = app.memories.get(request.path_params["id"])
            tags = split_list(form.get("tags"), limit=32)
            new = NewMemory(content=text, kind=old.kind, tags=tags, namespace=old.namespace,
                            importance=old.importance,
                            provenance=Provenance(agent_id=app.settings.agent_id, tool="ui",
                                                  source=old.provenance.source))
            return app.memories.remember(new, supersedes=old.id)

        res = await ui.call(run)
        return ui.redirect(f"/memory/{res.memory.id}")

    @ui.page(post=True)
    async def retag(request: Request):
        form = await request.form()
        mem_id = request.path_params["id"]
        await ui.call(app.memories.set_tags, mem_id, split_list(form.get("tags"), limit=32))
        return ui.redirect(f"/memory/{mem_id}")

    @ui.page(post=True)
    async def feedback(request: Request):
        form = await request.form()
        mem_id = request.path_params["id"]
        await ui.call(app.trust.feedback, mem_id, str(form.get("verdict") or ""),
                      note=(form.get("note") or "").strip() or None)
        return ui.redirect(f"/memory/{mem_id}")

    @ui.page()
    async def forget_confirm(request: Request):
        m = await ui.call(app.memories.get, request.path_params["id"])
        return ui.render(request, "confirm_forget.html", m=m)

    @ui.page(post=True)
    async def forget(request: Request):
        form = await request.form()
        mem_id = request.path_params["id"]
        if form.get("confirm") != "yes":
            return ui.redirect(f"/memory/{mem_id}/forget")

        # the one forget use case (services/forget.py), as the CLI and MCP: the model guard,
        # the delete, and the registered exports rewritten without the memory
        gone = await ui.call(app.forgetting.forget, [mem_id])
        return ui.render(request, "done.html", title="Forgotten",
                         message=f"forgot {len(gone)} memory: {', '.join(m.id for m in gone)}",
                         back=("/memories", "back to Memories"))

    return [
        Route("/memories", memories),
        Route("/memory/{id}", memory),
        Route("/memory/{id}/supersede", supersede, methods=["POST"]),
        Route("/memory/{id}/tags", retag, methods=["POST"]),
        Route("/memory/{id}/feedback", feedback, methods=["POST"]),
        Route("/memory/{id}/forget", forget_confirm, methods=["GET"]),
        Route("/memory/{id}/forget", forget, methods=["POST"]),
    ]
