"""Test helpers: serve saved pages over local HTTP and run a real spider on them.

Twisted's reactor cannot be restarted inside one process, so every crawl runs
the spider through ``CrawlerProcess`` in a child Python process (this file run
as a script) and ships the items back as JSON lines.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
SHARED_PAGES = SHARED / "pages"

# Raw bytes with a bare type: no charset in the header, so the spiders' own
# encoding detection is what gets tested.
CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".json": "application/json",
    ".xml": "application/xml",
    ".atom": "application/xml",
    ".rss": "application/xml",
    ".txt": "text/plain",
}

TEST_SETTINGS: dict[str, Any] = {
    "ROBOTSTXT_OBEY": True,  # the test server answers 404 for robots.txt: allow all
    "HTTPCACHE_ENABLED": False,
    "LOG_LEVEL": "WARNING",
    "TELNETCONSOLE_ENABLED": False,
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "ITEM_PIPELINES": {},
    "CONCURRENT_REQUESTS": 16,
    "RETRY_ENABLED": False,
}


def make_handler(directory: Path) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(directory), **kwargs)

        def guess_type(self, path: str | os.PathLike[str]) -> str:
            return CONTENT_TYPES.get(Path(str(path)).suffix.lower(), "application/octet-stream")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # keep pytest output clean

    return Handler


@contextmanager
def serve_directory(directory: Path | str) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 (free port) in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(Path(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@functools.cache
def shared_pages_url() -> str:
    """One server for ../shared/pages per test session (never shut down: the
    thread is a daemon and dies with the session)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(SHARED_PAGES))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


@dataclasses.dataclass
class CrawlResult:
    items: list[Any]
    log: str
    stats: dict[str, Any]

    def warnings(self, needle: str = "") -> list[str]:
        return [ln for ln in self.log.splitlines() if ("WARNING" in ln or "ERROR" in ln) and needle in ln]


def _encode(value: Any) -> Any:
    return {"__datetime__": value.isoformat()} if isinstance(value, datetime) else value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "__datetime__" in value:
        return datetime.fromisoformat(value["__datetime__"])
    return value


def crawl(spider_cls: type | str, start_urls: list[str], timeout: float = 120, **kwargs: Any) -> CrawlResult:
    """Run the real spider in a child process; items come back as PostItems."""
    from crawlers.items import PostItem

    spider = spider_cls if isinstance(spider_cls, str) else f"{spider_cls.__module__}:{spider_cls.__qualname__}"
    with tempfile.TemporaryDirectory() as tmp:
        payload = {
            "spider": spider,
            "start_urls": list(start_urls),
            "kwargs": kwargs,
            "items": str(Path(tmp) / "items.jsonl"),
            "stats": str(Path(tmp) / "stats.json"),
        }
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.run(
            [sys.executable, __file__, json.dumps(payload)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"crawl failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        lines = Path(payload["items"]).read_text(encoding="utf-8").splitlines()
        items = [PostItem(**{k: _decode(v) for k, v in json.loads(ln).items()}) for ln in lines if ln]
        stats = json.loads(Path(payload["stats"]).read_text(encoding="utf-8"))
    return CrawlResult(items=items, log=proc.stderr, stats=stats)


def run_spider(spider_cls: type | str, start_urls: list[str], **kwargs: Any) -> list[Any]:
    return crawl(spider_cls, start_urls, **kwargs).items


def _child(payload: dict[str, Any]) -> None:
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    module, qualname = payload["spider"].split(":")
    spider_cls = getattr(importlib.import_module(module), qualname)
    process = CrawlerProcess(TEST_SETTINGS)
    crawler = process.create_crawler(spider_cls)
    out = open(payload["items"], "w", encoding="utf-8")  # noqa: SIM115 - closed after the crawl

    def on_item(item: Any, response: Any, spider: Any) -> None:
        row = {f.name: _encode(getattr(item, f.name)) for f in dataclasses.fields(item)}
        out.write(json.dumps(row, ensure_ascii=False) + "\n")

    crawler.signals.connect(on_item, signal=signals.item_scraped)
    process.crawl(crawler, start_urls=payload["start_urls"], **payload["kwargs"])
    process.start()
    out.close()
    stats = {k: v for k, v in (crawler.stats.get_stats() or {}).items() if isinstance(v, (int, float, str))}
    Path(payload["stats"]).write_text(json.dumps(stats), encoding="utf-8")


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
