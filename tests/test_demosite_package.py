"""The demo as package data: its templates and TOML files ship in the wheel
and build the same bytes there; the runtime never imports it, and the demo
command needs nothing from cli.py."""

from __future__ import annotations

import ast
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from complaintwatch.demosite import build_demo_sites

REPO = Path(__file__).resolve().parents[1]
DEMOSITE = REPO / "complaintwatch" / "demosite"
RUNTIME = ("complaintwatch", "crawlers", "indexer", "web")

# sha256 over every built file (path and bytes, truth.json included). The
# corpus is deterministic, so this only moves when the demo is changed on
# purpose: then check the new output and update the digest.
DEMO_DIGEST = "c5acac99096ea91c7356451691ed01a54a36f197722f484dea85a25337f27b31"


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute module name, imported at module level) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] if node.module else []
            names += [f"{base}.{a.name}" for a in node.names]  # "from . import demo"
            found += [(n, id(node) in top) for n in names]
    return found


def test_runtime_never_imports_the_demo() -> None:
    """web/, indexer/, crawlers/ and complaintwatch/ (the CLI included) load the
    demo sites only through `complaintwatch demo`, lazily."""
    offenders = []
    for pkg in RUNTIME:
        for path in sorted((REPO / pkg).rglob("*.py")):
            if DEMOSITE in path.parents or path == REPO / "complaintwatch" / "demo.py":
                continue
            for name, at_top in _imports(path):
                demosite = name == "complaintwatch.demosite" or name.startswith("complaintwatch.demosite.")
                demo_at_start = at_top and (name == "complaintwatch.demo" or name.startswith("complaintwatch.demo."))
                if demosite or demo_at_start:
                    offenders.append(f"{path.relative_to(REPO)}: {name}")
    assert offenders == []


def test_demo_does_not_import_the_cli() -> None:
    for path in [REPO / "complaintwatch" / "demo.py", *DEMOSITE.rglob("*.py")]:
        names = [n for n, _ in _imports(path)]
        assert not [n for n in names if n == "complaintwatch.cli" or n.startswith("complaintwatch.cli.")], path


def test_cli_and_demo_load_without_each_other() -> None:
    code = (
        "import sys, complaintwatch.cli as cli; cli.build_parser(); "
        "print(sorted(m for m in sys.modules if m.startswith('complaintwatch.demo')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    code = "import sys, complaintwatch.demo; print('complaintwatch.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_demo_output_is_unchanged(tmp_path: Path) -> None:
    build_demo_sites(tmp_path)
    assert tree_digest(tmp_path) == DEMO_DIGEST


def test_wheel_ships_templates_and_data(tmp_path: Path) -> None:
    """A plain (non-editable) install has every template and data file and
    builds the same sites as the checkout."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pkg in RUNTIME:
        shutil.copytree(REPO / pkg, src / pkg, ignore=ignore)
    for f in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / f, src / f)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("complaintwatch-*.whl")
    installed = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(installed)
    data = sorted(
        p.relative_to(REPO).as_posix()
        for sub in ("data", "templates", "static")
        for p in (DEMOSITE / sub).rglob("*")
        if p.is_file()
    )
    assert len(data) >= 20 and not [f for f in data if f not in names]

    out = tmp_path / "out"
    code = (
        "import sys; from pathlib import Path; import complaintwatch.demosite as d; "
        "print(d.__file__); d.build_demo_sites(Path(sys.argv[1]))"
    )
    env = {"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert Path(proc.stdout.strip()).is_relative_to(installed)  # not the checkout
    assert tree_digest(out) == DEMO_DIGEST
