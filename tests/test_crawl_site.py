"""A local site server for the crawl tests, plus tests of the server itself.

`SiteServer` serves a built demo site (or any directory) on 127.0.0.1 the way
a well-behaved web server does: every 200 carries an ETag and a Last-Modified
(the file's mtime), and a conditional request (If-None-Match /
If-Modified-Since) for an unchanged file gets an empty 304. It records every
request (path, status, User-Agent, conditional headers) and the most requests
it ever had in flight at once, can answer slowly (``latency``), and can append
lines to robots.txt. The other tests/test_crawl_*.py modules import it.
"""

from __future__ import annotations

import hashlib
import http.client
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from complaintwatch.demosite.server import TOKEN, resolve

_TYPES = {
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class Hit:
    path: str
    status: int
    user_agent: str
    if_none_match: str | None
    if_modified_since: str | None


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a crawler killed mid-response resets its connections


class SiteServer:
    """Serve `root` on a free loopback port from daemon threads."""

    def __init__(self, root: Path, *, latency: float = 0.0, robots_extra: str = "") -> None:
        self.root = Path(root)
        self.latency = latency
        self.robots_extra = robots_extra
        self.hits: list[Hit] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="crawl-site", daemon=True
        )

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def take_hits(self) -> list[Hit]:
        """The requests seen since the last call (and forget them)."""
        with self._lock:
            hits, self.hits = self.hits, []
            self.max_in_flight = 0
        return hits

    def body_of(self, target: Path) -> bytes:
        body = target.read_bytes()
        if target.suffix in {".html", "", ".xml", ".txt"}:
            body = body.replace(TOKEN, self.base_url.encode())
        if target.name == "robots.txt" and self.robots_extra:
            body = body.rstrip(b"\n") + b"\n" + self.robots_extra.encode() + b"\n"
        return body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers
            server_version = "crawl-test/1.0"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:
                with site._lock:
                    site.in_flight += 1
                    site.max_in_flight = max(site.max_in_flight, site.in_flight)
                try:
                    if site.latency:
                        time.sleep(site.latency)
                    self._serve()
                finally:
                    with site._lock:
                        site.in_flight -= 1

            def _serve(self) -> int:
                target, redirect = resolve(site.root, unquote(urlsplit(self.path).path))
                if redirect is not None:
                    self._send(301, b"", {"Location": redirect})
                    return 301
                if target is None:
                    self._send(404, b"<html><body>404</body></html>", {"Content-Type": "text/html; charset=utf-8"})
                    return 404
                body = site.body_of(target)
                etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
                mtime = int(target.stat().st_mtime)
                headers = {"ETag": etag, "Last-Modified": formatdate(mtime, usegmt=True)}
                if _not_modified(self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since"), etag, mtime):
                    self._send(304, b"", headers, with_length=False)
                    return 304
                ctype = _TYPES.get(target.suffix, "text/html; charset=utf-8")
                if target.name == "index.xml":
                    ctype = "application/rss+xml; charset=utf-8"
                self._send(200, body, {**headers, "Content-Type": ctype})
                return 200

            def _send(self, status: int, body: bytes, headers: dict[str, str], with_length: bool = True) -> None:
                # logged before the response goes out: a client that has its
                # answer must find its request in the log
                hit = Hit(
                    unquote(urlsplit(self.path).path),
                    status,
                    self.headers.get("User-Agent", ""),
                    self.headers.get("If-None-Match"),
                    self.headers.get("If-Modified-Since"),
                )
                with site._lock:
                    site.hits.append(hit)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if with_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

        return Handler


def _not_modified(if_none_match: str | None, if_modified_since: str | None, etag: str, mtime: int) -> bool:
    """RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since only without it."""
    if if_none_match is not None:
        return etag in [t.strip().removeprefix("W/") for t in if_none_match.split(",")] or if_none_match == "*"
    if if_modified_since:
        try:
            return mtime <= parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError):
            return False
    return False


# --- the server's own behaviour ------------------------------------------------


def _get(base: str, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(urlsplit(base).hostname, urlsplit(base).port, timeout=5)
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


def test_site_server_validators_and_304(tmp_path):
    (tmp_path / "a.html").write_text("<p>__BASE_URL__/x</p>", encoding="utf-8")
    (tmp_path / "robots.txt").write_text("User-agent: *\nDisallow: /admin/\n", encoding="utf-8")
    with SiteServer(tmp_path, robots_extra="Disallow: /secret/") as site:
        first = _get(site.base_url, "/a.html")
        etag, last_modified = first.getheader("ETag"), first.getheader("Last-Modified")
        assert first.status == 200 and etag and last_modified
        assert site.body_of(tmp_path / "a.html") == f"<p>{site.base_url}/x</p>".encode()
        assert _get(site.base_url, "/a.html", {"If-None-Match": etag}).status == 304
        assert _get(site.base_url, "/a.html", {"If-Modified-Since": last_modified}).status == 304
        assert (
            _get(site.base_url, "/a.html", {"If-None-Match": '"other"', "If-Modified-Since": last_modified}).status
            == 200
        )
        assert b"Disallow: /secret/" in site.body_of(tmp_path / "robots.txt")
        assert _get(site.base_url, "/nope.html").status == 404
        hits = site.take_hits()
    assert [h.status for h in hits] == [200, 304, 304, 200, 404]
    assert hits[1].if_none_match == etag
