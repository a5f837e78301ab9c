"""One key loader: the App reads the key file once and every keyed MAC derives from that key."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from memoryd.errors import ErasureError
from memoryd.trust import derive_key

ROOT = Path(__file__).resolve().parents[2] / "memoryd"


def test_every_service_derives_from_the_app_key(app, settings):
    key = app.master_key()
    assert len(key) >= 32 and settings.key_path.read_bytes() != b""
    assert app.master_key() is key  # read once, then kept
    assert app.erasure._key() == key
    assert app.models._key() == derive_key(key, "model-ledger")
    assert app.trust.ledger._k()[0] == derive_key(key, "trust-evidence")


def test_a_bad_key_file_is_an_erasure_error_not_a_crash(app, settings):
    settings.key_path.write_bytes(b"short")
    with pytest.raises(ErasureError, match="key file"):
        app.erasure._key()


def test_only_the_app_loads_the_key_file():
    callers = set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                if name == "load_or_create_key":
                    callers.add(path.relative_to(ROOT).as_posix())
    assert callers == {"app.py"}
