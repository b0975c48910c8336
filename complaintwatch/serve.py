"""Serve the Flask app with waitress, a production WSGI server.

A pool of worker threads answers requests; idle or stalled connections are
closed after CHANNEL_TIMEOUT seconds, connections are capped, and request
headers and bodies have size limits. Only requests whose Host header is on the
allow-list are answered (web/hosts.py): by default the address bound and its
port (on loopback also 127.0.0.1, localhost and [::1]), plus ``allowed_hosts``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

THREADS = 8
CHANNEL_TIMEOUT = 30  # seconds a connection may sit idle or half-sent before it is closed
CONNECTION_LIMIT = 200
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 1 << 20
ALLOWED_HOSTS_ENV = "COMPLAINTWATCH_ALLOWED_HOSTS"


def env_allowed_hosts() -> list[str]:
    """$COMPLAINTWATCH_ALLOWED_HOSTS: names separated by commas or spaces."""
    return [h for h in os.environ.get(ALLOWED_HOSTS_ENV, "").replace(",", " ").split() if h]


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
) -> None:
    from waitress import create_server

    from web import create_app
    from web.hosts import default_allowed_hosts, host_entry

    app = create_app(store, embedder, config)
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        channel_timeout=CHANNEL_TIMEOUT,
        cleanup_interval=min(30, CHANNEL_TIMEOUT),
        connection_limit=CONNECTION_LIMIT,
        max_request_header_size=MAX_HEADER_BYTES,
        max_request_body_size=MAX_BODY_BYTES,
        expose_tracebacks=False,
    )
    listen = getattr(server, "effective_listen", None) or [(server.effective_host, server.effective_port)]
    bound_port = int(listen[0][1])  # the real port when asked for port 0
    extra = list(allowed_hosts or []) + env_allowed_hosts()
    app.config["ALLOWED_HOSTS"] = default_allowed_hosts(host, bound_port) + extra
    print(
        f"complaintwatch UI: http://{host_entry(host)}:{bound_port}/  (waitress, {threads} threads; Ctrl-C to stop)",
        flush=True,
    )
    if "*" in app.config["ALLOWED_HOSTS"]:
        print("  Host header check off (--allowed-host '*')", flush=True)
    else:
        print(f"  answering Host: {', '.join(app.config['ALLOWED_HOSTS'])}", flush=True)
    _default_signals()
    server.run()  # returns on Ctrl-C, after closing the sockets
    sys.stderr.write("\nstopped\n")
