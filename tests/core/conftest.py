"""Fixtures for the core tests: the CLI in-process on a real database file."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from memoryd.cli import app as cli

runner = CliRunner()


@pytest.fixture
def run(tmp_path, embedder):
    """run(*args, input=None): `memoryd --db tmp/cli.db ARGS` through typer's runner."""
    db = tmp_path / "cli.db"

    def _run(*args, input=None):
        return runner.invoke(cli, ["--db", str(db), *args], input=input)

    return _run
