"""Trust: agents with trust and evidence in words, quarantine review (release, flag the
author), and agents and tokens (add, rotate, revoke, scopes)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from ..errors import ValidationError
from .forms import split_list
from .web import UI

__all__ = ["routes"]

SCOPES = ("read", "write", "forget", "erase")


def routes(ui: UI) -> list[Route]:
    app = ui.app

    def overview() -> dict:
        trust = sorted(app.trust.agents(), key=lambda a: (a.score.mean, a.agent_id))
        return {"trust": trust, "quarantined": app.trust.quarantined(), "agents": app.agents.list()}

    @ui.page()
    async def page(request: Request):
        data = await ui.call(overview)
        return ui.render(request, "trust.html", scopes=SCOPES, **data)

    @ui.page()
    async def explain(request: Request):
        ex = await ui.call(app.trust.explain, request.path_params["subject"])
        return ui.render(request, "explain.html", ex=ex)

    @ui.page(post=True)
    async def release(request: Request):
        await ui.call(app.trust.release, request.path_params["id"])
        return ui.redirect("/trust")

    @ui.page(post=True)
    async def judge(request: Request):
        form = await request.form()
        agent, action = request.path_params["agent"], form.get("action")
        if action not in ("vouch", "flag"):
            raise ValidationError("action must be vouch or flag")
        if action == "flag" and form.get("confirm") != "yes":
            raise ValidationError("flagging an agent sinks all its memories: tick the confirmation box")
        await ui.call(app.trust.flag if action == "flag" else app.trust.vouch, agent)
        return ui.redirect("/trust")

    def _scopes(form) -> list[str]:
        return [s for s in SCOPES if form.get(f"scope_{s}")]

    @ui.page(post=True)
    async def add(request: Request):
        form = await request.form()
        name = (form.get("name") or "").strip()
        issued = await ui.call(app.agents.add, name, split_list(form.get("private")), _scopes(form) or None)
        return ui.render(request, "token.html", agent=issued.agent, token=issued.token, action="created")

    @ui.page(post=True)
    async def agent_action(request: Request):
        form = await request.form()
        name, action = request.path_params["name"], form.get("action")
        if action == "scopes":
            await ui.call(app.agents.set_scopes, name, _scopes(form))
            return ui.redirect("/trust")
        if action not in ("rotate", "revoke"):
            raise ValidationError("action must be scopes, rotate or revoke")
        if form.get("confirm") != "yes":
            raise ValidationError(f"{action} cuts off the agent's current token: tick the confirmation box")
        if action == "revoke":
            await ui.call(app.agents.revoke, name)
            return ui.redirect("/trust")
        issued = await ui.call(app.agents.rotate, name)
        return ui.render(request, "token.html", agent=issued.agent, token=issued.token, action="rotated")

    return [
        Route("/trust", page),
        Route("/trust/explain/{subject}", explain),
        Route("/trust/release/{id}", release, methods=["POST"]),
        Route("/trust/agent/{agent}", judge, methods=["POST"]),
        Route("/agents/add", add, methods=["POST"]),
        Route("/agents/{name}", agent_action, methods=["POST"]),
    ]
