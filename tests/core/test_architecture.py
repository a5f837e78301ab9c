"""The layering of docs/architecture.md, enforced by parsing the source (no imports run):
torch only in the editing code and the embedder, SQL only in store/ and db/, pure packages
free of storage, thin adapters; and every CLI command has help, --json and a mention in
the docs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import typer

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "memoryd"
TORCH_FAMILY = {"torch", "transformers", "peft", "sentence_transformers", "accelerate", "onnx", "onnxruntime"}
TORCH_ALLOWED = ("memoryd.editing", "memoryd.bench.unlearn", "memoryd.embedding")
SQL_ALLOWED = ("memoryd.store", "memoryd.db")
# package -> packages it must never import
FORBIDDEN = {
    "memoryd.store": ("memoryd.services", "memoryd.cli", "memoryd.mcp", "memoryd.app", "memoryd.bench",
                      "memoryd.editing"),
    "memoryd.db": ("memoryd.store", "memoryd.services", "memoryd.cli", "memoryd.mcp", "memoryd.app"),
    "memoryd.search": ("memoryd.store", "memoryd.db", "memoryd.services", "memoryd.cli", "memoryd.mcp",
                       "memoryd.app", "sqlite3"),
    "memoryd.graph": ("memoryd.store", "memoryd.db", "memoryd.services", "memoryd.cli", "memoryd.mcp",
                      "memoryd.app", "sqlite3"),
    "memoryd.trust": ("memoryd.store", "memoryd.db", "memoryd.services", "memoryd.cli", "memoryd.mcp",
                      "memoryd.app", "sqlite3"),
    "memoryd.editing": ("memoryd.store", "memoryd.db", "memoryd.services", "memoryd.cli", "memoryd.mcp",
                        "memoryd.app"),
    "memoryd.services": ("memoryd.cli", "memoryd.mcp"),
    "memoryd.cli": ("memoryd.store", "memoryd.db"),
    "memoryd.mcp": ("memoryd.store", "memoryd.db", "memoryd.cli"),
}


def _modules() -> list[tuple[str, Path, ast.Module]]:
    out = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path, ast.parse(path.read_text(), str(path))))
    return out


MODULES = _modules()


def _imports(name: str, path: Path, tree: ast.Module) -> list[tuple[str, int]]:
    """Every imported module, absolute, with its line (imports inside functions included)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append((mod, node.lineno))
            found += [(f"{mod}.{a.name}", node.lineno) for a in node.names]  # `from . import x`
    return found


def _within(mod: str, prefixes) -> bool:
    return any(mod == p or mod.startswith(p + ".") for p in prefixes)


def test_the_source_tree_was_found():
    names = {n for n, _, _ in MODULES}
    assert {"memoryd.store.memories", "memoryd.services.memories", "memoryd.embedding"} <= names


def test_torch_stays_in_editing_and_the_embedder():
    bad = [f"{name}:{line} imports {mod}" for name, path, tree in MODULES if not _within(name, TORCH_ALLOWED)
           for mod, line in _imports(name, path, tree) if mod.split(".")[0] in TORCH_FAMILY]
    assert not bad, bad


def _sql_calls(tree: ast.Module) -> list[int]:
    """Lines calling .execute/.executemany/.executescript with a literal SQL string."""
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("execute", "executemany", "executescript") and node.args
            and (isinstance(node.args[0], ast.JoinedStr)
                 or (isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)))]


def test_sql_only_in_store_and_db():
    bad = [f"{name}:{line}" for name, _path, tree in MODULES if not _within(name, SQL_ALLOWED)
           for line in _sql_calls(tree)]
    assert not bad, f"SQL outside memoryd/store and memoryd/db: {bad}"


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_only_downwards(package):
    bad = [f"{name}:{line} imports {mod}" for name, path, tree in MODULES if _within(name, (package,))
           for mod, line in _imports(name, path, tree) if _within(mod, FORBIDDEN[package])]
    assert not bad, bad


def test_the_checker_sees_a_violation():
    """The rules above can fail: a store module importing a service is caught."""
    tree = ast.parse("from ..services.memories import MemoryService\nimport torch\n")
    mods = [m for m, _ in _imports("memoryd.store.fake", PKG / "store" / "fake.py", tree)]
    assert "memoryd.services.memories" in mods and "torch" in mods
    assert _within("memoryd.services.memories", FORBIDDEN["memoryd.store"])
    sql = ast.parse('conn.execute("PRAGMA quick_check")\nconn.execute(f"SELECT {x}")\nsvc.execute(plan)\n')
    assert _sql_calls(sql) == [1, 2]


def _commands():
    from memoryd.cli import app

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for n, c in subs.items():
                yield from walk(c, path + [n])
        else:
            yield " ".join(path), cmd

    return list(walk(typer.main.get_command(app), []))


NO_JSON = {"serve": "a long-running server: its output is the MCP protocol itself"}


def test_every_cli_command_has_help_json_and_docs():
    docs = (ROOT / "README.md").read_text() + "".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))
    commands = _commands()
    assert len(commands) > 30
    problems = []
    for name, cmd in commands:
        if not (cmd.help or "").strip():
            problems.append(f"{name}: no help text")
        if name not in NO_JSON and not any("--json" in (getattr(p, "opts", None) or []) for p in cmd.params):
            problems.append(f"{name}: no --json")
        *group, last = name.split()
        if group:
            pattern = rf"{re.escape(group[-1])} [\w|-]*\b{re.escape(last)}\b"  # "graph stats|communities"
        else:
            pattern = rf"memoryd {re.escape(last)}\b|`{re.escape(last)}\b"
        if not re.search(pattern, docs):
            problems.append(f"{name}: not in README.md or docs/")
    assert not problems, problems


ERASURE_FORBIDDEN = ("memoryd.store", "memoryd.db", "memoryd.services", "memoryd.cli", "memoryd.mcp", "memoryd.app",
                     "memoryd.bench", "sqlite3", "pysqlite3")


def test_erasure_package_is_pure():
    """memoryd/erasure/ holds only what needs no database: subject matching, the plan's
    judgement, receipts, byte scans and export file formats. Planning against the store,
    verification and the export registry are memoryd/services/erasure/ (issue 19)."""
    names = {n for n, _, _ in MODULES}
    assert {"memoryd.erasure.planning", "memoryd.erasure.forensic", "memoryd.erasure.receipts"} <= names
    bad = [f"{name}:{line} imports {mod}" for name, path, tree in MODULES if _within(name, ("memoryd.erasure",))
           for mod, line in _imports(name, path, tree) if _within(mod, ERASURE_FORBIDDEN)]
    assert not bad, bad
    # the rule can fail: the old planner (it read the store) is caught
    tree = ast.parse("from ..store import erasure as estore\nfrom ..db.driver import sqlite3\n")
    mods = [m for m, _ in _imports("memoryd.erasure.planning", PKG / "erasure" / "planning.py", tree)]
    assert any(_within(m, ERASURE_FORBIDDEN) for m in mods)
    assert "memoryd.services.erasure.service" in names and "memoryd.erasure.verification" not in names


# ---- issue 18: the web UI is a thin adapter ---------------------------------------------------
UI_FORBIDDEN = ("memoryd.store", "memoryd.db", "memoryd.cli", "memoryd.mcp", "memoryd.bench", "memoryd.editing",
                "memoryd.search", "memoryd.graph", "memoryd.trust", "sqlite3")
UI_SERVICE_IMPORTS = {"memoryd.services.memories", "memoryd.services.memories.SearchOptions"}  # a parameter type


def test_the_web_ui_calls_services_only_through_the_app():
    """memoryd/ui renders and checks the operator's session; it reaches data only through the
    App's services (no store, no SQL, no other adapter), and nothing below it imports it."""
    bad = [f"{name}:{line} imports {mod}" for name, path, tree in MODULES if _within(name, ("memoryd.ui",))
           for mod, line in _imports(name, path, tree)
           if _within(mod, UI_FORBIDDEN) or (_within(mod, ("memoryd.services",)) and mod not in UI_SERVICE_IMPORTS)]
    assert not bad, bad
    below = ("memoryd.services", "memoryd.store", "memoryd.db", "memoryd.search", "memoryd.graph", "memoryd.trust",
             "memoryd.mcp", "memoryd.app")
    up = [f"{name}:{line} imports {mod}" for name, path, tree in MODULES if _within(name, below)
          for mod, line in _imports(name, path, tree) if _within(mod, ("memoryd.ui",))]
    assert not up, up


def test_the_web_ui_templates_escape_everything():
    """Autoescape stays on and no template turns it off for a value (|safe, autoescape false)."""
    web = (PKG / "ui" / "web.py").read_text()
    assert "autoescape=True" in web
    for tpl in sorted((PKG / "ui" / "templates").glob("*.html")):
        text = tpl.read_text()
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text, tpl.name
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"{tpl.name}: inline script (the CSP forbids it)"
        assert not re.search(r"\son[a-z]+=", text), f"{tpl.name}: inline event handler (the CSP forbids it)"


# ---- services by concept: packages of collaborators, not mixins (issue 19) ------------------------
SERVICE_PACKAGES = ("memoryd.services.graph", "memoryd.services.trust")
MAX_MODULE_LINES = 400


def _is_dataclass(node: ast.ClassDef) -> bool:
    names = [d.func if isinstance(d, ast.Call) else d for d in node.decorator_list]
    return any((isinstance(n, ast.Name) and n.id == "dataclass") or (isinstance(n, ast.Attribute) and n.attr == "dataclass")
               for n in names)


def test_graph_and_trust_services_are_packages_of_small_collaborators():
    for package in SERVICE_PACKAGES:
        assert (ROOT / package.replace(".", "/") / "__init__.py").is_file(), f"{package} is not a package"
    modules = [(n, p, t) for n, p, t in MODULES if _within(n, SERVICE_PACKAGES)]
    assert len(modules) >= 16  # the facades and their collaborators
    too_long = [f"{n}: {len(p.read_text().splitlines())} lines" for n, p, _ in modules
                if len(p.read_text().splitlines()) > MAX_MODULE_LINES]
    assert not too_long, too_long
    # one class with behaviour per module; plain value dataclasses may sit beside it
    crowded = [n for n, _, t in modules
               if sum(isinstance(c, ast.ClassDef) and not _is_dataclass(c) for c in t.body) > 1]
    assert not crowded, crowded


def test_no_service_is_a_class_spread_over_mixins():
    services = [(n, p, t) for n, p, t in MODULES if _within(n, ("memoryd.services",))]
    defined = {c.name for _, _, t in services for c in ast.walk(t) if isinstance(c, ast.ClassDef)}
    bad = []
    for name, _path, tree in services:
        for c in (c for c in ast.walk(tree) if isinstance(c, ast.ClassDef)):
            bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in c.bases}
            if bases & defined:
                bad.append(f"{name}.{c.name} inherits from {sorted(bases & defined)}")
            doc = (ast.get_docstring(c) or "").lower()
            if "host provides" in doc or "mixed into" in doc:
                bad.append(f"{name}.{c.name} is a mixin (its docstring says so)")
    assert not bad, bad


def test_pure_helpers_left_the_services():
    names = {n for n, _, _ in MODULES}
    assert {"memoryd.validation", "memoryd.trust.screen", "memoryd.embedding.onnx"} <= names
    gone = {"memoryd.services.validation", "memoryd.services.trust_screen", "memoryd.embedding_onnx",
            "memoryd.embedding_static", "memoryd.services.graph_views", "memoryd.services.graph_labels"}
    assert not names & gone, names & gone
    forbidden = ("memoryd.store", "memoryd.db", "memoryd.services", "memoryd.cli", "memoryd.mcp", "sqlite3")
    bad = [f"{name}:{line} imports {mod}" for name, path, tree in MODULES if name == "memoryd.validation"
           for mod, line in _imports(name, path, tree) if _within(mod, forbidden)]
    assert not bad, bad


# ---- benchmarks: one home (memoryd/bench/), one registration point (cli/bench.py) -----------------
BENCH = "memoryd.bench"
BENCH_IMPORTERS = (BENCH, "memoryd.cli.bench")  # the benches themselves and their CLI commands
NEVER_IMPORT_BENCH = ("memoryd.store", "memoryd.services", "memoryd.search", "memoryd.graph", "memoryd.trust",
                      "memoryd.erasure")


def _bench_imports(exempt: tuple[str, ...]) -> list[str]:
    return [f"{name}:{line} imports {mod}" for name, path, tree in MODULES if not _within(name, exempt)
            for mod, line in _imports(name, path, tree) if _within(mod, (BENCH,))]


def test_benchmarks_are_imported_only_by_the_bench_commands():
    bad = _bench_imports(BENCH_IMPORTERS)
    assert not bad, f"memoryd.bench imported outside memoryd/cli/bench: {bad}"


@pytest.mark.parametrize("package", NEVER_IMPORT_BENCH)
def test_core_layers_never_import_the_benchmarks(package):
    bad = [f"{name}:{line} imports {mod}" for name, path, tree in MODULES if _within(name, (package,))
           for mod, line in _imports(name, path, tree) if _within(mod, (BENCH,))]
    assert not bad, bad


def test_benchmarks_reach_the_store_through_the_app_and_services():
    bad = [f"{name}:{line} imports {mod}" for name, path, tree in MODULES if _within(name, (BENCH,))
           for mod, line in _imports(name, path, tree) if _within(mod, ("memoryd.store",))]
    assert not bad, bad


def test_the_bench_checker_sees_a_violation():
    """A service importing the bench harness is caught; the bench commands are not."""
    tree = ast.parse("from ..bench.harness import SimClock\n")
    mods = [m for m, _ in _imports("memoryd.services.fake", PKG / "services" / "fake.py", tree)]
    assert "memoryd.bench.harness" in mods and _within("memoryd.bench.harness", (BENCH,))
    assert not _within("memoryd.services.fake", BENCH_IMPORTERS) and _within("memoryd.cli.bench", BENCH_IMPORTERS)


def test_mcp_never_touches_the_sqlite_driver():
    """Lock contention reaches mcp/ as errors.StoreBusy (db/ maps it): no layer there may
    import sqlite3 or the db driver to read SQLite's exceptions or messages."""
    bad = [(name, line, mod) for name, path, tree in MODULES if _within(name, ("memoryd.mcp",))
           for mod, line in _imports(name, path, tree)
           if _within(mod, ("sqlite3", "pysqlite3", "memoryd.db"))]
    assert not bad, bad
