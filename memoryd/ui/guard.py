"""What may reach memoryd's HTTP servers at all, before any login or bearer token is looked at.

- ``HostGuard``: a server bound to loopback answers only requests addressed to loopback
  (``Host`` of localhost, 127.0.0.1, ::1 or the bound address; 421 otherwise) and, when a
  browser sends an ``Origin``, only from such an origin (403 otherwise). A page of
  ``evil.example`` whose name an attacker re-pointed at 127.0.0.1 (DNS rebinding) carries
  its own name in both, so it gets nothing, not even the login form. A TLS proxy in front
  that passes its own name on (Caddy does by default) needs that name allowed
  (``--allow-host NAME``). A server bound to another address cannot know the names it is
  reached by and checks neither (docs/security.md).
- ``read_form``: a form body is read up to ``MAX_FORM_BYTES`` (413 beyond, whatever the
  ``Content-Length`` says or without one), so no request, logged in or not, makes the
  server buffer an unbounded body.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from starlette.datastructures import FormData, Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse

__all__ = ["HostGuard", "is_loopback", "read_form", "FormTooLarge", "MAX_FORM_BYTES"]

MAX_FORM_BYTES = 1 << 20  # the largest form the UI sends (a bulk selection of ids) is a few KiB
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Is `host` (a name or an address, IPv6 with or without brackets) a loopback one?"""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(value: str, *, url: bool) -> str | None:
    try:
        return urlsplit(value if url else "//" + value).hostname  # lower case, no brackets, no port
    except ValueError:
        return None


class HostGuard:
    """ASGI middleware: refuse requests not addressed to this loopback server (see module)."""

    def __init__(self, app: Callable, bound_host: str, allow_hosts: Iterable[str] = ()):
        self.app = app
        self.active = is_loopback(bound_host)
        self.allowed = LOOPBACK_NAMES | {h.strip("[]").lower() for h in (bound_host, *allow_hosts)}

    def _ok(self, name: str | None) -> bool:
        return name is not None and (name in self.allowed or is_loopback(name))

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.active:
            headers = Headers(scope=scope)
            if not self._ok(_hostname(headers.get("host", ""), url=False)):
                return await PlainTextResponse("misdirected request: this memoryd server answers only on loopback "
                                               "(127.0.0.1, localhost, ::1) and the names given with --allow-host "
                                               "(a TLS proxy's name)", status_code=421)(scope, receive, send)
            origin = headers.get("origin")  # "null": a sandboxed frame or a file: page
            if origin is not None and not self._ok(None if origin == "null" else _hostname(origin, url=True)):
                return await PlainTextResponse(f"refused: a request from another site's page ({origin})",
                                               status_code=403)(scope, receive, send)
        return await self.app(scope, receive, send)


class FormTooLarge(Exception):
    """A request body over MAX_FORM_BYTES (answered 413)."""


async def read_form(request: Request, limit: int = MAX_FORM_BYTES) -> FormData:
    """The request's form, its body read up to `limit` bytes (FormTooLarge beyond)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise FormTooLarge(declared)
    if not hasattr(request, "_body"):
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise FormTooLarge(len(body))
        request._body = bytes(body)  # starlette's own cache: form() parses it instead of the stream
    return await request.form()
