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
TORCH_ALLOWED = ("memoryd.editing", "memoryd.bench.unlearn", "memoryd.embedding", "memoryd.embedding_onnx", "memoryd.embedding_static")
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
