"""`scrapy check`: the @url/@returns/@scrapes contracts in the spiders'
docstrings point at http://127.0.0.1:8765/<saved page>, i.e. ../shared/pages
served locally (by hand: `cd ../shared/pages && python -m http.server 8765`).
The test serves them on a free port and tests/contract_url.py redirects @url."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer

import pytest

from tests.crawl_helpers import REPO_ROOT, SHARED_PAGES, make_handler

SETTINGS = """SPIDER_MODULES = ["crawlers.spiders"]
# @url on this test's free port instead of the documented 8765
SPIDER_CONTRACTS = {"scrapy.contracts.default.UrlContract": None, "tests.contract_url.LocalUrlContract": 1}
ROBOTSTXT_OBEY = True
HTTPCACHE_ENABLED = False
TELNETCONSOLE_ENABLED = False
ITEM_PIPELINES = {}
LOG_LEVEL = "WARNING"
"""


@pytest.fixture(scope="module")
def contract_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(SHARED_PAGES))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_scrapy_check_passes(contract_server, tmp_path):
    (tmp_path / "contract_settings.py").write_text(SETTINGS, encoding="utf-8")
    env = {
        **os.environ,
        "SCRAPY_SETTINGS_MODULE": "contract_settings",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(tmp_path)]),
        "CW_CONTRACT_BASE": contract_server,
    }
    listed = subprocess.run(
        [sys.executable, "-m", "scrapy", "check", "-l"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert {"blog", "forum", "reviews", "reddit", "pikabu"} <= {
        ln.strip() for ln in listed.stdout.splitlines() if not ln.startswith(" ")
    }
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "check"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "OK" in proc.stderr + proc.stdout


def test_every_spider_is_registered_and_base_is_not(tmp_path):
    (tmp_path / "contract_settings.py").write_text(SETTINGS, encoding="utf-8")
    env = {
        **os.environ,
        "SCRAPY_SETTINGS_MODULE": "contract_settings",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(tmp_path)]),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.stdout.split() == ["blog", "forum", "pikabu", "reddit", "reviews", "vcru"]
