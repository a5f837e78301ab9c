"""What every page shares: templates (autoescaped), the login gate, CSRF and Origin checks
on POSTs, security headers, and domain errors turned into an error page."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..errors import AuthError, MemorydError, NotFoundError, ValidationError
from .auth import UIAuth, same_origin
from .guard import MAX_FORM_BYTES, FormTooLarge, read_form

if TYPE_CHECKING:
    from ..app import App

__all__ = ["UI", "PREFIX", "CSP", "security_headers"]

log = logging.getLogger(__name__)

PREFIX = "/ui"
HERE = Path(__file__).parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def security_headers(asgi: Callable) -> Callable:
    """Wrap an ASGI app: every response carries the CSP and friends."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await asgi(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in HEADERS if h[0] not in names]
            await send(message)

        return await asgi(scope, receive, send_with_headers)

    return wrapped


def fmt_time(t: float | None) -> str:
    if not t:
        return "-"
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


_STATUS = {NotFoundError: 404, ValidationError: 400, AuthError: 403}


class UI:
    """The state every page handler needs: the App, the auth checks, the templates."""

    def __init__(self, app: App, auth: UIAuth):
        self.app = app
        self.auth = auth
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.filters["time"] = fmt_time
        self.env.globals["prefix"] = PREFIX

    async def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Run a (blocking) service call off the event loop."""
        return await run_in_threadpool(fn, *args, **kw)

    def render(self, request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(csrf=self.auth.csrf, request=request, **ctx)
        return HTMLResponse(html, status_code=status)

    def error(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.render(request, "error.html", status=status, status_code=status, message=message)

    def redirect(self, path: str) -> RedirectResponse:
        return RedirectResponse(PREFIX + path, status_code=303)

    def page(self, *, post: bool = False) -> Callable:
        """Decorator for a handler: logged in (session cookie), and for POSTs same-origin with
        the CSRF token; MemorydError becomes an error page with a fitting status."""

        def deco(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
            @functools.wraps(fn)
            async def handler(request: Request) -> Response:
                if not self.auth.session_ok(request.cookies.get(self.auth.cookie)):
                    return self.render(request, "login.html", status=401, failed=False)
                if post or request.method == "POST":
                    ok, why = same_origin(request.headers, request.url.scheme)
                    if not ok:
                        log.warning("memoryd ui: refused a cross-site POST to %s: %s", request.url.path, why)
                        return self.error(request, 403, f"refused: a request from another site ({why})")
                    try:
                        form = await read_form(request)
                    except FormTooLarge:
                        return self.error(request, 413, f"refused: a form over {MAX_FORM_BYTES} bytes")
                    if not self.auth.csrf_ok(form.get("csrf")):
                        return self.error(request, 403, "refused: missing or wrong CSRF token (reload the page)")
                try:
                    return await fn(request)
                except MemorydError as exc:
                    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 409)
                    return self.error(request, status, str(exc))

            return handler

        return deco


def timed(fn: Callable[..., Any]) -> Callable[..., tuple[Any, float]]:
    """fn's result and the milliseconds it took (shown on the search page)."""

    def run(*a: Any, **kw: Any) -> tuple[Any, float]:
        t0 = time.perf_counter()
        out = fn(*a, **kw)
        return out, (time.perf_counter() - t0) * 1000

    return run
