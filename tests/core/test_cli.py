import json

import pytest

from memoryd.cli import app as cli


def _json(res):
    assert res.exit_code == 0, res.output + (res.stderr if res.stderr_bytes else "")
    return json.loads(res.stdout)


def test_add_search_show_list_forget_roundtrip(run):
    a = _json(run("add", "The VPN config lives in ops/vpn/wg0.conf", "-t", "ops", "-n", "infra", "--json"))
    assert a["duplicate"] is False and a["namespace"] == "infra" and a["tags"] == ["ops"]
    dup = _json(run("add", "The VPN config lives in ops/vpn/wg0.conf", "-n", "infra", "--json"))
    assert dup["duplicate"] is True and dup["id"] == a["id"]
    b = _json(run("add", "--json", input="Lunch order: Thai curry on Fridays\n"))
    hits = _json(run("search", "where is the wireguard configuration?", "--json"))
    assert hits[0]["id"] == a["id"] and "legs" in hits[0] and hits[0]["why"]
    assert _json(run("show", b["id"], "--json"))["content"] == "Lunch order: Thai curry on Fridays"
    listed = _json(run("list", "--json"))
    assert {m["id"] for m in listed} == {a["id"], b["id"]}
    assert [m["id"] for m in _json(run("list", "-n", "infra", "--json"))] == [a["id"]]
    assert _json(run("forget", a["id"], "--json")) == {"forgotten": [a["id"]]}
    assert run("show", a["id"]).exit_code == 4
    st = _json(run("stats", "--json"))
    assert st["memories"] == 1 and st["vectors"] == 1
    human = run("search", "curry")
    assert human.exit_code == 0 and "Thai curry" in human.stdout


def test_bad_input_is_a_clear_error_and_loses_nothing(run):
    _json(run("add", "precious memory", "--json"))
    empty = run("add", "   ")
    assert empty.exit_code == 2 and "empty" in empty.stderr
    big = run("add", "x" * 40_000)
    assert big.exit_code == 2 and "limit" in big.stderr
    unknown = run("show", "01NOPE")
    assert unknown.exit_code == 4 and "no memory" in unknown.stderr
    assert run("forget", "01NOPE").exit_code == 4
    assert run("search", "x", "--since", "yesterday-ish").exit_code == 2
    assert [m["content"] for m in _json(run("list", "--json"))] == ["precious memory"]


def test_invalid_utf8_on_stdin(run):
    res = run("add", input=b"caf\xe9 latte\n")
    assert res.exit_code == 2 and "UTF-8" in res.stderr
    assert _json(run("stats", "--json"))["memories"] == 0


def test_jsonl_import_all_or_nothing_and_export(run, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps({"content": f"imported note number {i}", "tags": ["imp"]}) for i in range(30)))
    res = _json(run("add", "--jsonl", str(good), "--json"))
    assert res == {"imported": 30, "duplicates": 0, "skipped": 0, "errors": []}
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"content": "fine"}\n{"nope": 1}\nnot json\n{"content": "caf\xe9"}\n')
    r = run("add", "--jsonl", str(bad))
    assert r.exit_code == 2 and "3 invalid line(s)" in r.stderr and "line 2" in r.stderr
    assert _json(run("stats", "--json"))["memories"] == 30
    r = _json(run("add", "--jsonl", str(bad), "--skip-invalid", "--json"))
    assert r["imported"] == 1 and r["skipped"] == 3
    out = tmp_path / "export.jsonl"
    ex = _json(run("export", "--out", str(out), "--json"))
    assert ex["exported"] == 31
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    assert {l["content"] for l in lines} >= {"fine", "imported note number 7"}
    assert (out.stat().st_mode & 0o777) == 0o600


def test_doctor_and_help(run):
    assert run("doctor", "--json").exit_code == 3  # no store at --db yet: reported, not created
    _json(run("add", "a first memory so the store exists", "--json"))
    d = _json(run("doctor", "--json"))
    assert d["ok"] is True
    names = {c["check"] for c in d["checks"]}
    assert {"writable", "pragmas", "migrations", "fts5", "embedding model", "vectors"} <= names
    top = run("--help")
    assert top.exit_code == 0


def test_every_command_has_help_and_json():
    import typer.main

    group = typer.main.get_command(cli)
    missing_help, missing_json = [], []

    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, path + [name])
            return
        if not (cmd.help or "").strip():
            missing_help.append(" ".join(path))
        if "--json" not in {o for p in cmd.params for o in getattr(p, "opts", [])} and path[-1] not in {"serve", "plot"}:
            missing_json.append(" ".join(path))

    walk(group, [])
    assert missing_help == []
    assert missing_json == []


def test_export_subject_is_an_access_request(run, tmp_path):
    about = _json(run("add", "Ingrid Kowalczyk owns the billing service; ingrid.k@example.org", "--json"))
    _json(run("add", "The billing service retries webhooks three times", "--json"))
    data = _json(run("export", "--subject", "Ingrid Kowalczyk"))
    assert data["count"] == 1 and [m["id"] for m in data["memories"]] == [about["id"]]
    assert data["memories"][0]["matched_because"]
    out = tmp_path / "ingrid.json"
    assert _json(run("export", "-s", "ingrid.k@example.org", "-o", str(out), "--json"))["exported"] == 1
    assert json.loads(out.read_text())["memories"][0]["id"] == about["id"]
    bad = run("export", "-s", "Ingrid Kowalczyk", "-n", "default")
    assert bad.exit_code != 0 and "--subject" in bad.output


def test_invalid_utf8_in_argv_is_a_clear_error_not_a_traceback(tmp_path):
    """A real `memoryd` process: bytes that are not UTF-8 in a tag or --source reach Python as
    lone surrogates; they are refused like invalid content (exit 2, one line on stderr)."""
    import subprocess
    import sys

    from memoryd.bench.harness import CLI, child_env

    db = tmp_path / "argv.db"
    for extra in ([b"-t", b"ops\xed\xa0\x80"], [b"--source", b"notes\xff.md"]):
        res = subprocess.run([sys.executable, "-c", CLI, "--db", str(db), "add", "argv bytes", *extra, "--json"],
                             env=child_env(tmp_path), capture_output=True, timeout=60)
        err = res.stderr.decode("utf-8", "replace")
        assert res.returncode == 2, err
        assert "Traceback" not in err and ("tag" in err or "source" in err), err


@pytest.mark.parametrize("args", [
    ["search", "ARG"], ["list", "--agent", "ARG"], ["list", "--tag", "ARG"], ["erase", "--subject", "ARG"],
    ["subject", "export", "-s", "ARG"], ["trust", "explain", "ARG"],
])
def test_invalid_utf8_in_any_text_argument_is_exit_2(run, args):
    """Python decodes argv bytes that are not UTF-8 as lone surrogates (what the runner passes
    here); every command refuses such a text argument by name instead of a traceback."""
    res = run(*[("q\udced\udca0\udc80" if a == "ARG" else a) for a in args], "--json")
    assert res.exit_code == 2, (res.exception, res.output)
    assert "not valid UTF-8" in res.stderr and "Traceback" not in res.output


def test_a_file_that_cannot_be_opened_as_the_store_is_a_clear_error(tmp_path):
    """Real `memoryd` processes: a --db that is not a SQLite file, or whose WAL cannot be
    created (a read-only directory, here a directory in the WAL file's place), fails while
    the connection's pragmas are set: exit 3 with the path, not a driver traceback."""
    import subprocess
    import sys

    from memoryd.bench.harness import CLI, child_env

    text = tmp_path / "notes.txt"
    text.write_text("not a database, just notes that someone passed to --db by mistake\n" * 4)
    blocked = tmp_path / "blocked.db"
    subprocess.run([sys.executable, "-c", CLI, "--db", str(blocked), "agents", "add", "probe", "--json"],
                   env=child_env(tmp_path), capture_output=True, timeout=60, check=True)  # a write creates the store
    (tmp_path / "blocked.db-wal").mkdir()
    for db in (text, blocked):
        res = subprocess.run([sys.executable, "-c", CLI, "--db", str(db), "stats", "--json"],
                             env=child_env(tmp_path), capture_output=True, text=True, timeout=60)
        assert res.returncode == 3, res.stderr
        assert "Traceback" not in res.stderr and "cannot open database" in res.stderr and str(db) in res.stderr


def test_erase_dry_run_flag_is_the_default_said_out_loud(run):
    """`--dry-run`, the flag a cautious user types first, lists and erases nothing; with --yes it
    is a contradiction, refused before anything is erased."""
    assert run("add", "Ilse Brandauer moved to Graz in May.", "--json").exit_code == 0
    res = run("erase", "--subject", "Ilse Brandauer", "--dry-run", "--json")
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["items"]) == 1
    both = run("erase", "--subject", "Ilse Brandauer", "--dry-run", "--yes")
    assert both.exit_code == 2 and "--dry-run" in both.output
    assert len(json.loads(run("search", "Ilse Brandauer", "--json").stdout)) == 1  # nothing erased
