"""The UI's ASGI app: login, the pages, the static files; and `with_ui`, which puts it
under /ui next to another ASGI app (the MCP server of `serve --http`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import erasure, graph, memories, models, trust
from .auth import UIAuth, redact_access_log, same_origin
from .guard import MAX_FORM_BYTES, FormTooLarge, HostGuard, read_form
from .web import HERE, PREFIX, UI, security_headers

if TYPE_CHECKING:
    from ..app import App

__all__ = ["create_ui_app", "with_ui", "UIMount", "login_url", "ui_url"]


def ui_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{PREFIX}/"


def login_url(host: str, port: int, token: str) -> str:
    return f"{ui_url(host, port)}?token={token}"


def _login(ui: UI, request: Request, token: str | None) -> Response:
    if not ui.auth.token_ok(token):
        # an agent's token, a rotated UI token or a typo: the same refusal, nothing verified elsewhere
        return ui.render(request, "login.html", status=403 if token else 401, failed=bool(token))
    resp = RedirectResponse(PREFIX + "/memories", status_code=303)
    resp.set_cookie(ui.auth.cookie, ui.auth.session, httponly=True, samesite="strict", path=PREFIX,
                    secure=request.url.scheme == "https")
    return resp


def create_ui_app(app: App, token: str, *, host: str | None = None, allow_hosts: tuple[str, ...] = ()) -> Callable:
    """The operator's web UI over an open App (the caller owns and closes the App).

    `token` is the operator UI token (`auth.load_or_create_token`); agents' tokens never
    log in. Every page calls the App's services as the operator. `host`: the address the
    server binds; a loopback one puts the UI behind ``guard.HostGuard`` (DNS rebinding).
    None: the caller guards the whole server itself (``serve --http``). `allow_hosts`: other
    names the guard lets in (a TLS proxy's, ``--allow-host``)."""
    ui = UI(app, UIAuth(token))
    redact_access_log()  # the login URL carries the token: never into a log line

    async def index(request: Request) -> Response:
        token = request.query_params.get("token")
        if token is not None:
            return _login(ui, request, token)
        if ui.auth.session_ok(request.cookies.get(ui.auth.cookie)):
            return RedirectResponse(PREFIX + "/memories", status_code=303)
        return ui.render(request, "login.html", status=401, failed=False)

    async def login(request: Request) -> Response:
        ok, why = same_origin(request.headers, request.url.scheme)
        if not ok:
            return ui.error(request, 403, f"refused: a request from another site ({why})")
        try:
            form = await read_form(request)
        except FormTooLarge:
            return ui.error(request, 413, f"refused: a form over {MAX_FORM_BYTES} bytes")
        return _login(ui, request, str(form.get("token") or ""))

    @ui.page(post=True)
    async def logout(request: Request) -> Response:
        resp = RedirectResponse(PREFIX + "/", status_code=303)
        resp.delete_cookie(ui.auth.cookie, path=PREFIX)
        return resp

    pages = [r for mod in (memories, erasure, trust, graph, models) for r in mod.routes(ui)]
    star = Starlette(routes=[
        Route(PREFIX, lambda request: RedirectResponse(PREFIX + "/", status_code=307)),
        Mount(PREFIX, routes=[
            Route("/", index),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
            *pages,
        ]),
    ])
    return security_headers(star if host is None else HostGuard(star, host, allow_hosts))


class UIMount:
    """ASGI middleware: /ui and /ui/... go to the UI, everything else to the wrapped app
    (used as ``Middleware(UIMount, ui=...)`` by ``serve --http``; lifespan stays inner)."""

    def __init__(self, app: Callable, ui: Callable):
        self.app = app
        self.ui = ui

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            return await self.ui(scope, receive, send)
        return await self.app(scope, receive, send)


def with_ui(inner: Callable, ui_app: Callable) -> Callable:
    """`inner` with the UI under /ui."""
    return UIMount(inner, ui_app)
