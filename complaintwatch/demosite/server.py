"""Loopback HTTP servers for the built demo sites, one port per site.

The generated files contain the token __BASE_URL__ wherever the real
platforms use absolute URLs; it is replaced per request with this server's
http://HOST:PORT because the port is only known once the socket is bound.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from .build import DemoSite

TOKEN = b"__BASE_URL__"
_INDEX_FILES = ("index.html", "index.xml")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    "": "text/html; charset=utf-8",  # extension-less pages: /reviews/<id>, .../page-2
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_TEXTUAL = {".html", "", ".xml", ".txt"}


def resolve(root: Path, url_path: str) -> tuple[Path | None, str | None]:
    """(file to serve, None) or (None, redirect target) or (None, None) = 404."""
    parts = [p for p in url_path.split("/") if p]
    if any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
        return None, None
    target = root.joinpath(*parts)
    if not url_path.endswith("/") and parts:
        if target.is_file():
            return target, None
        if any((target / i).is_file() for i in _INDEX_FILES):
            return None, url_path + "/"  # directory asked without its slash
        return None, None
    for index in _INDEX_FILES:
        if (target / index).is_file():
            return target / index, None
    return None, None


def _content_type(path: Path) -> str:
    if path.name == "index.xml":
        return "application/rss+xml; charset=utf-8"  # the blog's /feed/
    return _TYPES.get(path.suffix, "application/octet-stream")


def _handler_for(root: Path, base_url: str) -> type[BaseHTTPRequestHandler]:
    base = base_url.encode()

    class Handler(BaseHTTPRequestHandler):
        server_version = "complaintwatch-demo/1.0"

        def do_GET(self) -> None:
            self._serve(with_body=True)

        def do_HEAD(self) -> None:
            self._serve(with_body=False)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # quiet: crawls make hundreds of requests

        def _serve(self, with_body: bool) -> None:
            url_path = unquote(urlsplit(self.path).path)
            target, redirect = resolve(root, url_path)
            if redirect is not None:
                self.send_response(301)
                self.send_header("Location", redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if target is None:
                body = b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>"
                self._send(404, "text/html; charset=utf-8", body, with_body)
                return
            body = target.read_bytes()
            if target.suffix in _TEXTUAL:
                body = body.replace(TOKEN, base)
            self._send(200, _content_type(target), body, with_body)

        def _send(self, status: int, ctype: str, body: bytes, with_body: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

    return Handler


@dataclass
class DemoServer:
    base_urls: dict[str, str]  # site name -> "http://127.0.0.1:PORT"
    start_urls: dict[str, list[str]]  # site name -> [sitemap url]
    _servers: list[ThreadingHTTPServer] = field(default_factory=list, repr=False)

    def close(self) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        self._servers.clear()

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _bind(host: str, port: int) -> ThreadingHTTPServer:
    try:
        return ThreadingHTTPServer((host, port), BaseHTTPRequestHandler)
    except OSError:
        if not port:
            raise
        return ThreadingHTTPServer((host, 0), BaseHTTPRequestHandler)  # taken: any free port


def serve_demo_sites(sites: list[DemoSite], host: str = "127.0.0.1", ports: dict[str, int] | None = None) -> DemoServer:
    """Serve each site on its own port from daemon threads: the one in `ports`
    when it is free (post URLs include the port, so a re-run on the same ports
    updates the stored posts instead of adding copies), else a free one."""
    server = DemoServer({}, {})
    ports = ports or {}
    try:
        for site in sites:
            srv = _bind(host, ports.get(site.name, 0))
            srv.daemon_threads = True
            base_url = f"http://{host}:{srv.server_address[1]}"
            srv.RequestHandlerClass = _handler_for(Path(site.root), base_url)
            server._servers.append(srv)
            server.base_urls[site.name] = base_url
            server.start_urls[site.name] = [f"{base_url}/sitemap.xml"]
            # A short poll interval keeps close() (which waits for the loop) snappy.
            threading.Thread(
                target=srv.serve_forever, kwargs={"poll_interval": 0.05}, name=f"demosite-{site.name}", daemon=True
            ).start()
    except BaseException:
        server.close()
        raise
    return server
