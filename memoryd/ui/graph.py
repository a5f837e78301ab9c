"""Graph: communities with labels and sizes, and one community drawn in the browser
(static/graph.js) from a JSON endpoint of its members and the links among them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .web import UI

__all__ = ["routes", "MAX_NODES"]

MAX_NODES = 60  # members drawn in one community view
LINKS_PER_NODE = 10


def routes(ui: UI) -> list[Route]:
    app = ui.app

    @ui.page()
    async def page(request: Request):
        stats = await ui.call(app.graph.stats)
        comms = await ui.call(app.graph.communities, limit=100)
        return ui.render(request, "graph.html", stats=stats, communities=comms)

    @ui.page()
    async def community(request: Request):
        data = await ui.call(app.graph.community, int(request.path_params["cid"]), limit=MAX_NODES)
        return ui.render(request, "community.html", c=data)

    def links(cid: int) -> dict:
        c = app.graph.community(cid, limit=MAX_NODES)
        ids = {m["id"] for m in c["members"]}
        edges: dict[tuple[str, str], float] = {}
        for m in c["members"]:
            for r in app.graph.show(m["id"], limit=LINKS_PER_NODE)["related"]:
                if r["id"] in ids and r["id"] != m["id"]:
                    key = tuple(sorted((m["id"], r["id"])))
                    edges[key] = max(edges.get(key, 0.0), float(r["weight"]))
        return {"id": c["id"], "label": c["label"], "size": c["size"],
                "nodes": [{"id": m["id"], "namespace": m["namespace"], "text": m["content"][:120]} for m in c["members"]],
                "links": [{"source": a, "target": b, "weight": round(w, 3)} for (a, b), w in edges.items()]}

    @ui.page()
    async def community_json(request: Request):
        return JSONResponse(await ui.call(links, int(request.path_params["cid"])))

    return [
        Route("/graph", page),
        Route("/graph/community/{cid:int}", community),
        Route("/graph/community/{cid:int}.json", community_json),
    ]
