"""The built wheel carries its migrations and runs from outside the checkout.

The wheel is installed without -e into a fresh venv. To stay fast and offline, that venv
borrows the dependencies of the running interpreter through a .pth file (memoryd itself comes
only from the wheel; the smoke script checks where it is imported from). `.ci/run` does the
full version: a fresh venv that installs the wheel's dependencies too (`.ci/smoke_wheel.sh`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a clean copy of the project's files (no build/ or egg-info left over from
    earlier builds, which setuptools would otherwise reuse)."""
    src = tmp_path_factory.mktemp("src")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                    str(src)], check=True, timeout=600, capture_output=True)
    (whl,) = out.glob("memoryd-*.whl")
    return whl


def test_wheel_carries_the_migrations(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("memoryd/migrations/") and n.endswith(".sql"))
    assert shipped == sorted(p.name for p in (ROOT / "memoryd" / "migrations").glob("*.sql"))
    assert not any(n.startswith(("tests/", "migrations/")) for n in names)


@pytest.mark.slow
def test_wheel_installed_without_e_runs_add_search_serve(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    purelib = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    with zipfile.ZipFile(wheel) as z:  # a wheel install is an unzip plus an entry-point script
        z.extractall(purelib)
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    deps.append(sysconfig.get_paths()["purelib"])
    (Path(purelib) / "_borrowed_deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    exe = venv / "bin" / "memoryd"
    exe.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom memoryd.cli import main\nsys.exit(main())\n")
    exe.chmod(0o755)
    res = subprocess.run([str(venv / "bin" / "python"), str(ROOT / ".ci" / "smoke_installed.py"), str(exe)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "serve ok" in res.stdout and str(purelib) in res.stdout


def test_wheel_carries_the_web_ui_templates_and_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    ui = ROOT / "memoryd" / "ui"
    wanted = {f"memoryd/ui/{p.relative_to(ui).as_posix()}" for p in ui.rglob("*") if p.suffix in (".html", ".css", ".js")}
    assert wanted and len(wanted) >= 15
    assert wanted <= names, sorted(wanted - names)
