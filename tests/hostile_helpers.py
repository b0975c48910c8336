"""A hostile site on 127.0.0.1 for the crawl-hardening tests, and the real CLI.

`HostileSite` answers each GET with whatever its `route(path)` function says
(status, headers, body; or DROP to close the connection without an answer)
and records every request with a server-side monotonic timestamp. `cli()`
runs `python -m complaintwatch` in a subprocess, in any working directory,
with the state folder in a temp dir unless told otherwise.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
DROP = object()  # route result: close the connection without answering

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True, slots=True)
class Hit:
    at: float  # time.monotonic() when the request arrived
    path: str
    status: int


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


class HostileSite:
    def __init__(self, route: Callable[[str], Answer | object]) -> None:
        self.route = route
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> HostileSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def paths(self, prefix: str = "/") -> list[str]:
        with self._lock:
            return [h.path for h in self.hits if h.path.startswith(prefix)]

    def times(self, path: str) -> list[float]:
        with self._lock:
            return [h.at for h in self.hits if h.path == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                at = time.monotonic()
                path = urlsplit(self.path).path
                answer = site.route(path)
                status = 0 if answer is DROP else answer[0]
                with site._lock:
                    site.hits.append(Hit(at, path, status))
                if answer is DROP:
                    self.close_connection = True
                    return
                status, headers, body = answer
                self.send_response(status)
                headers = {"Content-Type": "text/html; charset=utf-8", **headers}
                headers.setdefault("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

        return Handler


def html(status: int, body: str, **headers: str) -> Answer:
    return status, {k.replace("_", "-"): v for k, v in headers.items()}, body.encode()


def article(title: str, text: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="og:title" content="{title}"><meta name="author" content="Kim">'
        '<meta property="article:published_time" content="2024-03-05T10:00:00+00:00"></head>'
        f'<body class="single"><article><h1 class="entry-title">{title}</h1>'
        f'<div class="entry-content"><p>{text}</p></div></article></body></html>'
    )


def listing(heading: str, links: list[str], next_href: str | None) -> str:
    """A blog listing page: one <article> per link, and a rel=next link."""
    nxt = f'<link rel="next" href="{next_href}">' if next_href else ""
    cards = "".join(f'<article><h2 class="entry-title"><a href="{u}">{u}</a></h2></article>' for u in links)
    head = f"<!doctype html><html><head><title>{heading}</title>{nxt}</head>"
    return f"{head}<body><h1>{heading}</h1>{cards}</body></html>"


def cli(
    *args: str, cwd: Path | str = REPO, state_dir: Path | str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("COMPLAINTWATCH_STATE_DIR", None)
    if state_dir is not None:
        env["COMPLAINTWATCH_STATE_DIR"] = str(state_dir)
    cmd = [sys.executable, "-m", "complaintwatch", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def summary(proc: subprocess.CompletedProcess) -> dict[str, str]:
    """The crawl summary's lines: 'crawled', 'skipped' and 'stopped by bounds'."""
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"(crawled|skipped|stopped by bounds)\b:? ?(.*)", line)
        if m:
            out[m.group(1)] = m.group(2)
    assert "crawled" in out, proc.stdout + proc.stderr[-3000:]
    return out
