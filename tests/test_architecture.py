"""Data flows one way: spider -> pipeline -> store -> indexer -> store -> web.

Every module's imports (lazy ones inside functions included) are read with
`ast` and resolved to absolute module names, so a new import against the flow
fails here instead of in review."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STORE = REPO / "indexer" / "store"
# the store package's backend-neutral parts; every other module or package in it is a backend
NEUTRAL = {"__init__", "base", "appstate", "roles", "types"}


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


def store_backends() -> set[str]:
    """The backends: every module and package of indexer/store but the neutral ones."""
    names = {p.stem for p in STORE.glob("*.py")} | {p.parent.name for p in STORE.glob("*/__init__.py")}
    return {f"indexer.store.{n}" for n in names - NEUTRAL}


@pytest.mark.parametrize("neutral", sorted(NEUTRAL - {"__init__"}))
def test_store_interface_imports_no_backend(neutral):
    """The interface does not know its implementations; open_store, which
    picks one by URL, lives in indexer/store/__init__.py."""
    backends = store_backends()
    assert "indexer.store.sqlite" in backends and "indexer.store.es" in backends
    found = imports(STORE / f"{neutral}.py")
    assert sorted(n for n in found if any(under(n, b) for b in backends)) == []


def test_web_reaches_no_store_backend():
    """The web reads whichever store it is given, through the roles
    (indexer.store.roles, base); only open_store (indexer.store) picks a backend."""
    backends = store_backends()
    bad = violations("web", lambda n: not any(under(n, b) for b in backends))
    assert bad == []
    # the checker sees such an import: a backend module is a backend
    assert any(under("indexer.store.sqlite.search", b) for b in backends)


def test_layers_name_the_store_roles_they_use():
    """The whole Store is for what needs every role (the app factory and its
    services, the pseudonymising wrapper); the index run's steps take PostStore
    (and app state), the web's pages the roles and records (roles.py, types.py)."""
    whole = "indexer.store.base.Store"
    assert whole not in imports(REPO / "indexer" / "pipeline.py")
    assert "indexer.store.roles.PostStore" in imports(REPO / "indexer" / "pipeline.py")
    users = sorted(str(p.relative_to(REPO)) for p in modules("web") if whole in imports(p))
    assert users == ["web/__init__.py", "web/privacy.py", "web/services.py"]


def _declared(role: type) -> set[str]:
    return {n for n, v in vars(role).items() if callable(v) and not n.startswith("_")}


def test_each_store_role_declares_only_its_own_methods():
    """A role is one job: posts (write/read, journal, vectors, derived fields),
    search, analytics, app state (documents, alerts, takedowns). No method sits
    in two roles, none wanders into another's vocabulary, and Store adds only
    check/close and the takedown's scrub (a rule over several roles) to their union."""
    from indexer.store.appstate import AppState
    from indexer.store.base import Store
    from indexer.store.roles import AnalyticsStore, AppStateStore, PostStore, SearchStore

    foreign = {  # what each role must not declare (regular expressions over method names)
        PostStore: r"^search_|facet|compan|^sites$|^languages$|latest|same_story|saved_search|takedown|^state_|^blob_",
        SearchStore: r"upsert|^set_|compan|vectors$|incidents$|saved_search|takedown|^state_|^blob_|^posts_",
        AnalyticsStore: r"^search_|facet|upsert|^set_(vectors|analysis|stance)|^posts_|vectors|saved_search|takedown"
        r"|^state_|^blob_",
        AppStateStore: r"^search_|facet|compan|upsert|^set_|^posts_|vectors|incident|latest",
    }
    roles = list(foreign)
    for role, pattern in foreign.items():
        wrong = sorted(m for m in _declared(role) if re.search(pattern, m))
        assert wrong == [], f"{role.__name__} declares {wrong}"
    for i, a in enumerate(roles):
        for b in roles[i + 1 :]:
            assert _declared(a) & _declared(b) == set(), f"{a.__name__} and {b.__name__} share methods"
    every = set().union(*(_declared(r) for r in roles), _declared(AppState))
    assert _declared(Store) - every == {"check", "close", "scrub_incidents_after_takedown"}
    assert every <= {n for n in dir(Store) if not n.startswith("_")}
    # the roles' names are Store's abstract methods plus the defaults (nothing left out of the split)
    assert Store.__abstractmethods__ - {"check", "close"} <= every
