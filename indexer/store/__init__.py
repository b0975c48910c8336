"""Search-store backends behind one interface: the roles of roles.py,
composed in base.Store; open_store picks a backend (the sqlite/ or es/
package) by URL. The interface knows no backend: only this module does."""

from __future__ import annotations

from pathlib import Path

from .base import Store, UpsertResult


def open_store(url: str | Path) -> Store:
    """``sqlite:///path/to.db`` or a plain path -> the embedded store;
    ``es://host:9200[/prefix]`` (``es+https://user:pass@host:9200/prefix``)
    -> Elasticsearch 8."""
    s = str(url)
    if s.split("://", 1)[0].lower() in ("es", "es+http", "es+https", "elasticsearch"):
        from .es import ElasticsearchStore

        return ElasticsearchStore(s)
    if s.startswith("sqlite:///"):
        s = s[len("sqlite:///") - 1 :] if s.startswith("sqlite:////") else s[len("sqlite:///") :]
    if "://" in s:
        raise ValueError(f"unsupported store URL: {url}")
    from .sqlite import SQLiteStore

    return SQLiteStore(Path(s))


__all__ = ["Store", "UpsertResult", "open_store"]
