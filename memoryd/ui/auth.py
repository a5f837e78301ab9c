"""The operator's UI token, the session cookie, CSRF tokens and the cross-site check.

- The token is a random secret stored in the memoryd home (``ui.token``, mode 0600), never
  in the database and never one of the agents' tokens: ``memoryd ui`` prints a login URL
  that carries it once; the page sets an HttpOnly, SameSite=Strict session cookie. Its name
  is derived from the token too (``memoryd_ui_<12 hex>``): browsers keep one cookie jar for
  every port of 127.0.0.1, so two UIs of two stores on two ports would otherwise overwrite
  each other's session and log each other out.
- The session value and the CSRF token are HMACs of the UI token, so rotating the token
  (``memoryd ui --new-token``) logs every browser out and nothing else needs storing.
- Every POST must carry the CSRF token and an Origin (or, failing that, a Referer) of the
  page's own origin; anything else is refused with 403.
- The token never reaches a log: ``serve --http`` names the token file instead of printing
  the login URL, and ``redact_access_log`` blanks ``token=`` in uvicorn's access log lines.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["TOKEN_FILE", "COOKIE_PREFIX", "load_or_create_token", "new_token", "UIAuth", "redact_access_log"]

TOKEN_FILE = "ui.token"
COOKIE_PREFIX = "memoryd_ui_"


def _write_secret(path: Path, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def new_token(home: Path) -> str:
    """A fresh operator UI token in ``home/ui.token`` (0600); the old one stops working."""
    token = "mdui_" + secrets.token_urlsafe(32)
    _write_secret(Path(home) / TOKEN_FILE, token)
    return token


def load_or_create_token(home: Path) -> str:
    path = Path(home) / TOKEN_FILE
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return new_token(home)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o600)  # readable by others: tighten it
    return token if token else new_token(home)


class UIAuth:
    """Checks for one token (read once at start; the server restarts to pick a new one)."""

    def __init__(self, token: str):
        if not token:
            raise ValueError("empty UI token")
        self._key = token.encode()

    def _mac(self, what: str) -> str:
        return hmac.new(self._key, what.encode(), hashlib.sha256).hexdigest()

    def token_ok(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(
            hashlib.sha256(candidate.encode()).digest(), hashlib.sha256(self._key).digest())

    @property
    def cookie(self) -> str:
        """The session cookie's name: one per UI token, so UIs of other stores keep their own."""
        return COOKIE_PREFIX + self._mac("memoryd-ui-cookie-name")[:12]

    @property
    def session(self) -> str:
        return self._mac("memoryd-ui-session")

    def session_ok(self, cookie: str | None) -> bool:
        return bool(cookie) and hmac.compare_digest(cookie, self.session)

    @property
    def csrf(self) -> str:
        return self._mac("memoryd-ui-csrf")

    def csrf_ok(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(value, self.csrf)


def same_origin(headers, scheme: str) -> tuple[bool, str]:
    """Is this request from a page of our own origin? (Origin, else Referer; neither: no.)"""
    host = headers.get("host", "")
    ours = f"{scheme}://{host}".lower()
    origin = headers.get("origin")
    if origin:
        return (origin.lower() == ours, f"Origin {origin} is not {ours}")
    referer = headers.get("referer")
    if referer:
        p = urlsplit(referer)
        return (f"{p.scheme}://{p.netloc}".lower() == ours, f"Referer {p.scheme}://{p.netloc} is not {ours}")
    return False, "no Origin or Referer header"


_TOKEN_PARAM = re.compile(r"([?&]token=)[^&\s]*")


class _RedactToken(logging.Filter):
    """Blanks the value of a ``token=`` query parameter in a log record's arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_PARAM.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def redact_access_log() -> None:
    """Keep the login URL's token out of uvicorn's access log (``memoryd -v ui`` or
    ``serve --http`` writes one line per request, query string included). Idempotent; a
    filter on the logger survives the dictConfig uvicorn applies when it starts."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactToken) for f in access.filters):
        access.addFilter(_RedactToken())
