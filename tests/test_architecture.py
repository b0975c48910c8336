"""Data flows one way: spider -> pipeline -> store -> indexer -> store -> web.

Every module's imports (lazy ones inside functions included) are read with
`ast` and resolved to absolute module names, so a new import against the flow
fails here instead of in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STORE = REPO / "indexer" / "store"
# the store package's backend-neutral parts; every other module in it is a backend
NEUTRAL = {"__init__", "base", "appstate"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Absolute names of every module `path` imports: `import a.b` -> a.b,
    `from a import b` -> a and a.b (b may be a module), relative ones resolved."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names if a.name != "*")
    return out


def modules(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(folder: str, allowed) -> list[str]:
    return [
        f"{p.relative_to(REPO)} imports {name}"
        for p in modules(folder)
        for name in sorted(imports(p))
        if not allowed(name)
    ]


def test_imports_are_resolved():
    """The checker itself: relative, lazy and `from . import x` imports are seen."""
    pkg = REPO / "crawlers"
    found = imports(pkg / "pipelines.py")
    assert "crawlers.frontier" in found  # `from . import frontier`
    assert "crawlers.extraction.dates" in found  # `from .extraction.dates import ...`
    assert "indexer.store" in found
    assert "complaintwatch.cli" in imports(REPO / "complaintwatch" / "__main__.py")


def test_crawlers_reach_the_indexer_only_through_the_store():
    """The crawl side writes posts into the store (its sink) and needs nothing
    else of the indexer: language and the company table live in complaintwatch/."""
    bad = violations("crawlers", lambda n: not under(n, "indexer") or under(n, "indexer.store") or n == "indexer")
    assert bad == []


def test_indexer_imports_neither_web_nor_crawlers():
    bad = violations("indexer", lambda n: not (under(n, "web") or under(n, "crawlers")))
    assert bad == []


def test_web_imports_no_crawler():
    bad = violations("web", lambda n: not under(n, "crawlers"))
    assert bad == []


def test_crawlers_do_not_import_the_cli():
    """Settings come from complaintwatch.config, not from the command module."""
    bad = violations("crawlers", lambda n: not under(n, "complaintwatch.cli"))
    assert bad == []


@pytest.mark.parametrize("neutral", sorted(NEUTRAL - {"__init__"}))
def test_store_interface_imports_no_backend(neutral):
    """The interface does not know its implementations; open_store, which
    picks one by URL, lives in indexer/store/__init__.py."""
    backends = {f"indexer.store.{p.stem}" for p in STORE.glob("*.py") if p.stem not in NEUTRAL}
    assert "indexer.store.sqlite" in backends and "indexer.store.es" in backends
    found = imports(STORE / f"{neutral}.py")
    assert sorted(n for n in found if any(under(n, b) for b in backends)) == []
