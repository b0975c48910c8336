"""What a takedown removes on the crawl side: the HTTP cache entries of the
listed URLs and their variants (crawlers/middlewares.py and the item
pipeline already refuse them on every later crawl).

Scrapy's FilesystemCacheStorage keeps one folder per request fingerprint,
``<HTTPCACHE_DIR>/<spider>/<fp[:2]>/<fp>/``, with a ``meta`` file (a Python
literal: url, response_url, status, ...) beside the response body. An entry
whose request or response URL falls under the takedown list is deleted whole.
"""

from __future__ import annotations

import ast
import gzip
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

from complaintwatch.config import load_settings
from indexer.store.base import TakedownMatcher

log = logging.getLogger(__name__)


def http_cache_dirs(store_url: str, explicit: Iterable[Path] = ()) -> list[Path]:
    """The HTTP cache folders a crawl of this installation would use: the
    given ones, the one the crawl settings resolve to (as Scrapy's cache
    storage resolves HTTPCACHE_DIR), and ``<state folder>/httpcache``;
    only those that exist."""
    found: list[Path] = [Path(p) for p in explicit]
    try:
        from scrapy.utils.project import data_path

        from .runner import crawl_settings

        found.append(Path(data_path(crawl_settings(store_url)["HTTPCACHE_DIR"])))
    except Exception as e:  # no project data dir outside a Scrapy project: the state folder below
        log.debug("crawl settings name no HTTP cache folder here: %s", e)
    found.append(load_settings().state_dir / "httpcache")
    out: list[Path] = []
    for p in found:
        if p.is_dir() and p.resolve() not in {q.resolve() for q in out}:
            out.append(p)
    return out


def _read_meta(path: Path) -> dict | None:
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # HTTPCACHE_GZIP
            raw = gzip.decompress(raw)
        meta = ast.literal_eval(raw.decode("utf-8", "replace"))
    except (OSError, ValueError, SyntaxError, EOFError):
        return None
    return meta if isinstance(meta, dict) else None


def forget_cached(cache_dir: Path, listed: Iterable[str]) -> list[str]:
    """Delete the cache entries under ``cache_dir`` for listed URLs (or their
    variants: TakedownMatcher). Returns the URLs of the deleted entries."""
    matcher = TakedownMatcher(listed)
    gone: list[str] = []
    if not matcher:
        return gone
    for meta_path in sorted(Path(cache_dir).glob("*/*/*/meta")):
        meta = _read_meta(meta_path)
        if meta is None:
            continue
        urls = [u for u in (meta.get("url"), meta.get("response_url")) if isinstance(u, str)]
        if matcher.any(*urls):
            shutil.rmtree(meta_path.parent, ignore_errors=True)
            gone.append(urls[0])
    if gone:
        log.info("takedown: %d HTTP cache entries deleted from %s", len(gone), cache_dir)
    return gone
