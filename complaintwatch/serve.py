"""Serve the Flask app with a threaded WSGI server (werkzeug's, no extra deps)."""

from __future__ import annotations

import sys

from werkzeug.serving import make_server


def serve(store, embedder, host: str = "127.0.0.1", port: int = 8000, config: dict | None = None) -> None:
    from web import create_app

    app = create_app(store, embedder, config)
    server = make_server(host, port, app, threaded=True)
    print(f"complaintwatch UI: http://{host}:{server.server_port}/  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.stderr.write("\nstopped\n")
    finally:
        server.server_close()
