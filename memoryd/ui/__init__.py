"""The local web dashboard (issue 18): a thin adapter like cli/ and mcp/.

Server-rendered pages (Starlette + autoescaped Jinja2 templates shipped in the package)
call the App's services as the operator, only after the operator UI token
(``ui.token`` in the memoryd home, 0600) has been shown once. See docs/ui.md."""

from __future__ import annotations

from .auth import TOKEN_FILE, load_or_create_token, new_token
from .server import UIMount, create_ui_app, login_url, ui_url, with_ui

__all__ = ["create_ui_app", "with_ui", "UIMount", "login_url", "ui_url", "load_or_create_token", "new_token", "TOKEN_FILE"]
