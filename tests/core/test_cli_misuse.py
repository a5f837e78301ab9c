"""Plausible misuse of the main commands: one clear line on stderr and a usage exit code,
never a traceback, and never a flag silently ignored."""

from __future__ import annotations

import pytest


def _clean_failure(res, code: int = 2) -> str:
    """The command failed with `code` through typer.Exit/click (SystemExit), not an exception."""
    assert isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code == code, (res.exit_code, res.output)
    assert "Traceback" not in res.output
    return res.stderr


@pytest.fixture
def with_graph(run):
    for text in ("The billing job exports invoices to S3 every night",
                 "The invoice export job writes to the billing bucket on S3",
                 "Alice reviews the billing pull requests on Mondays"):
        assert run("add", text).exit_code == 0
    return run


def test_graph_plot_and_export_to_a_directory(with_graph, tmp_path):
    err = _clean_failure(with_graph("graph", "plot", str(tmp_path)))
    assert f"cannot write {tmp_path}" in err and "directory" in err
    err = _clean_failure(with_graph("graph", "export", "--format", "graphml", "--out", str(tmp_path)))
    assert f"cannot write {tmp_path}" in err


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_serve_and_ui_refuse_a_port_out_of_range(run, port):
    for args in (("serve", "--http", "--port", port), ("ui", "--port", port, "--print-url")):
        err = _clean_failure(run(*args))
        assert "--port" in err and ("65535" in err or "greater than or equal" in err)


@pytest.mark.parametrize("flags", [("--port", "9000"), ("--host", "0.0.0.0"), ("--path", "/x"), ("--no-ui",)])
def test_serve_http_flags_without_http_are_refused(run, flags):
    err = _clean_failure(run("serve", *flags))
    assert "--http" in err and flags[0] in err


def test_serve_project_is_for_stdio(run):
    err = _clean_failure(run("serve", "--http", "--project", "none"))
    assert "--project" in err and "stdio" in err


def test_search_help_names_the_fusion_it_uses(run):
    res = run("search", "--help")
    assert res.exit_code == 0
    text = " ".join(res.stdout.split())
    assert "reciprocal rank" not in text and "relative score" in text


def test_mcp_config_file_that_is_a_directory(run, tmp_path):
    err = _clean_failure(run("mcp-config", "cursor", "--file", str(tmp_path), "--write"))
    assert f"cannot read {tmp_path}: Is a directory" in " ".join(err.split())
    assert "Errno" not in err
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    for client in ("cursor", "codex"):
        err = _clean_failure(run("mcp-config", client, "--file", str(blocked / "mcp.json"), "--write"))
        assert f"cannot write {blocked / 'mcp.json'}: {blocked} is not a folder" in " ".join(err.split())
    err = _clean_failure(run("mcp-config", "claude-code", "--write", "--hooks", "--file", str(blocked / "m.json")))
    assert "cannot write" in err and "Errno" not in err


def test_serve_help_marks_the_http_only_flags(run):
    res = run("serve", "--help")
    assert res.exit_code == 0
    text = " ".join(res.stdout.split())
    for flag in ("HTTP: address to bind", "HTTP: port to bind", "HTTP: endpoint path"):
        assert flag in text


def test_serve_http_on_a_busy_port_says_so_before_announcing_anything(run):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = run("serve", "--http", "--port", str(port))
    err = _clean_failure(res)
    assert f"cannot listen on 127.0.0.1:{port}" in err and "in use" in err
    assert "MCP server on" not in err and "/ui/?token=" not in err  # no URL of a server that never ran
