"""The demo's files inside the package: data/*.toml (companies, word lists,
sentence fragments, site strings), templates/<site>/ (Jinja) and
static/<site>/ (files served as they are, laid out by URL path).

Read through importlib.resources, so a checkout, an editable install and a
wheel all find them; pyproject.toml's package-data ships them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

PACKAGE = __package__ or "complaintwatch.demosite"


@cache
def load_data(name: str) -> dict[str, Any]:
    """data/<name>.toml, parsed once per process (callers must not mutate it)."""
    path = files(PACKAGE) / "data" / f"{name}.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:  # tomllib's message lacks the file name
        raise ValueError(f"{path}: {e}") from e


def static_files(site: str) -> Iterator[tuple[str, str]]:
    """(URL path, text) of every file under static/<site>/."""

    def walk(node: Traversable, prefix: str) -> Iterator[tuple[str, str]]:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                yield from walk(child, f"{prefix}{child.name}/")
            else:
                yield f"{prefix}{child.name}", child.read_text(encoding="utf-8")

    return walk(files(PACKAGE) / "static" / site, "/")
