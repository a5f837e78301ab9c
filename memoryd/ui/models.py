"""Models: the ledger of locally adapted models (versions, what each absorbed, the erasure
edits with their verification figures)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .web import UI

__all__ = ["routes"]


def routes(ui: UI) -> list[Route]:
    app = ui.app

    @ui.page()
    async def page(request: Request):
        rows = await ui.call(app.models.list)
        return ui.render(request, "models.html", rows=rows)

    @ui.page()
    async def version(request: Request):
        data = await ui.call(app.models.show, request.path_params["id"])
        return ui.render(request, "model.html", v=data)

    return [Route("/models", page), Route("/models/{id}", version)]
