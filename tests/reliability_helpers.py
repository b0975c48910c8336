"""Helpers for the reliability tests: local HTTP sites with full control over
headers and bodies (and a log of what was requested), and the real CLI."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.crawl_helpers import REPO_ROOT

CHUNK = 1 << 20
STORY = (
    "Заказал телефон в магазине Ozon, через неделю заказ отменили без объяснений.\n"
    "Деньги вернули только через месяц, поддержка не отвечала на письма и звонки."
)


def page(title: str, text: str, *, date: str = "2024-03-05T10:00:00+00:00", charset: str | None = "utf-8") -> str:
    paras = "".join(f"<p>{t}</p>" for t in text.split("\n") if t)
    meta = f'<meta charset="{charset}">' if charset else ""
    return (
        f'<!doctype html><html lang="ru"><head>{meta}<title>{title}</title>'
        f'<meta property="og:title" content="{title}"><meta name="author" content="Иван Петров">'
        f'<meta property="article:published_time" content="{date}"></head>'
        f'<body class="single"><article><h1 class="entry-title">{title}</h1>'
        f'<div class="entry-content">{paras}</div></article></body></html>'
    )


def exactly(n: int, title: str) -> bytes:
    """A page of exactly n bytes: a short post and an inline image (how real pages get this big)."""
    head, tail = page(title, STORY).encode().split(b"</div></article>")
    pre, post, end = b'<p><img alt="photo" src="data:image/jpeg;base64,', b'"></p>', b"</div></article>" + tail
    fill = n - len(head) - len(pre) - len(post) - len(end)
    body = head + pre + b"A" * fill + post + end
    assert len(body) == n
    return body


@dataclass
class Route:
    body: bytes
    content_type: str = "text/html"
    streamed: bool = False  # no Content-Length: the size is only known while reading


@dataclass
class Site:
    routes: dict[str, Route] = field(default_factory=dict)
    requested: list[str] = field(default_factory=list)
    url: str = ""
    validators: bool = False  # ETag and Last-Modified, so Scrapy's RFC 2616 cache policy stores pages


@contextmanager
def serve(site: Site) -> Iterator[Site]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            site.requested.append(self.path)
            route = site.routes.get(self.path.split("?")[0])
            if route is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", route.content_type)
            if not route.streamed:
                self.send_header("Content-Length", str(len(route.body)))
            if site.validators:
                self.send_header("ETag", '"' + hashlib.sha1(route.body).hexdigest() + '"')
                self.send_header("Last-Modified", "Tue, 05 Mar 2024 10:00:00 GMT")
            self.end_headers()
            try:
                for i in range(0, len(route.body), CHUNK):
                    self.wfile.write(route.body[i : i + CHUNK])
            except OSError:
                pass  # the crawler hung up (too large): expected

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def cli(*args: str, timeout: int = 300, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "complaintwatch", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env=env,
    )


def crawl(store_url: str, spider: str, urls: list[str]) -> subprocess.CompletedProcess:
    proc = cli("--store", store_url, "-v", "crawl", spider, *urls, "--no-cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    return proc
