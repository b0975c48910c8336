"""Several crawl workers on one shared frontier (crawlers/distributed.py), for
real: Debian's redis-server started by scripts/redis-server.sh, the demo forum
(526 posts on ~120 pages, thread pages linking to their next pages) served
over 127.0.0.1, two `complaintwatch crawl --frontier` subprocesses writing to
the Elasticsearch store.

1. Two workers share the crawl: every page is fetched exactly once across
   both (the server's own request log), both took work from the queue, and
   the store holds exactly the posts of the site's truth manifest.
2. One worker is SIGKILLed mid-crawl while it holds requests in flight: the
   other puts them back once the dead worker's heartbeat expires and
   finishes; the store still holds every post, and only what the killed
   worker held was fetched a second time.

Both end with nothing of the crawl left in Redis.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis

import complaintwatch.demosite as demosite
from complaintwatch.models import canonical_url
from crawlers.distributed import frontier_key
from tests.test_crawl_site import SiteServer

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "redis-server.sh"
ROBOTS = "/robots.txt"  # each worker reads it itself, as a polite crawler must
BUSY = 16 + 4  # CONCURRENT_REQUESTS, and a few: pages a worker holds beyond what it is fetching


def _redis_env(home: Path) -> dict[str, str]:
    return {**os.environ, "COMPLAINTWATCH_REDIS_HOME": str(home)}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A Redis of the tests' own (own data folder, free port), stopped at the end."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)")
    env = _redis_env(tmp_path_factory.mktemp("redis"))
    r = subprocess.run([str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
    yield r.stdout.strip().splitlines()[-1]
    subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, timeout=60)


def test_redis_script_is_idempotent_and_keeps_data_across_a_restart(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)")
    env = _redis_env(tmp_path)

    def script(cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(SCRIPT), cmd], env=env, capture_output=True, text=True, timeout=60)

    try:
        url = script("start").stdout.strip()
        assert re.fullmatch(r"redis://127\.0\.0\.1:\d+/0", url)
        assert script("start").stdout.strip() == url  # reused, not a second server
        redis.Redis.from_url(url).zadd("queue", {"request": 1})
        assert script("stop").returncode == 0
        assert script("status").returncode == 3
        url2 = script("start").stdout.strip()
        assert redis.Redis.from_url(url2).zrange("queue", 0, -1) == [b"request"]  # append-only file
    finally:
        script("stop")


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "complaintwatch", "--store", "sqlite:///unused.db", "crawl", "forum", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_a_frontier_that_is_not_redis_or_does_not_answer_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for frontier, says in (
        ("http://127.0.0.1:6379", "wants a Redis URL"),
        (f"redis://127.0.0.1:{port}/0", f"Redis at redis://127.0.0.1:{port}/0 does not answer"),
    ):
        r = _cli("http://127.0.0.1:9/", "--frontier", frontier)
        assert r.returncode == 2 and says in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    r = _cli("http://127.0.0.1:9/", "--frontier", "redis://127.0.0.1:9/0", "--jobdir", str(tmp_path))
    assert r.returncode == 2 and "not both" in r.stderr, r.stderr


# --- two workers -----------------------------------------------------------------


class Worker:
    """`complaintwatch crawl forum --frontier` in a subprocess; output to files
    (a full pipe would stall it)."""

    def __init__(self, name: str, tmp: Path, cmd: list[str]) -> None:
        self.out, self.err = tmp / f"{name}.out", tmp / f"{name}.err"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=err)

    def wait(self, timeout: float = 240) -> int:
        return self.proc.wait(timeout=timeout)

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr(self) -> str:
        return self.err.read_text()[-3000:]

    def taken(self) -> int:
        """Requests this worker took from the shared queue (its crawl summary)."""
        m = re.search(r"frontier: (\d+) requests taken from the shared queue", self.stdout())
        assert m, self.stdout() + self.stderr()
        return int(m.group(1))

    def requeued(self) -> int:
        m = re.search(r"(\d+) requests of stopped workers put back", self.stdout())
        return int(m.group(1)) if m else 0


@pytest.fixture
def spawn(tmp_path):
    """Start a worker; any still running when the test ends is killed."""
    started: list[Worker] = []

    def start(name: str, cmd: list[str]) -> Worker:
        started.append(Worker(name, tmp_path, cmd))
        return started[-1]

    yield start
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


@pytest.fixture
def forum(tmp_path):
    sites = demosite.build_demo_sites(tmp_path / "sites")
    site = next(s for s in sites if s.name == "forum")
    return site, demosite.truth_manifest([site])


def _cmd(store_url: str, start: str, frontier: str, heartbeat: int) -> list[str]:
    return [
        *(sys.executable, "-m", "complaintwatch", "--store", store_url, "-v", "crawl", "forum", start),
        *("--no-cache", "--frontier", frontier, "--frontier-idle", "2", "--frontier-heartbeat", str(heartbeat)),
    ]


def _stored(store) -> list[str]:
    return [p.url for p in store.iter_posts()]


def _crawl_keys(r: redis.Redis, start: str) -> list[bytes]:
    prefix = frontier_key(SimpleNamespace(name="forum", start_urls=[start]))
    return r.keys(prefix + ":*")


@pytest.mark.slow
@pytest.mark.es
@pytest.mark.parametrize("store", ["es"], indirect=True)
def test_two_workers_share_one_queue_and_fetch_every_page_once(store, forum, redis_url, spawn):
    site_def, truth = forum
    with SiteServer(site_def.root, latency=0.4) as site:
        start = f"{site.base_url}/sitemap.xml"
        cmd = _cmd(store.url, start, redis_url, heartbeat=10)
        a, b = spawn("a", cmd), spawn("b", cmd)
        assert a.wait() == 0, a.stderr()
        assert b.wait() == 0, b.stderr()
        hits = site.take_hits()

    fetched = Counter(h.path for h in hits if h.path != ROBOTS)
    assert {p: n for p, n in fetched.items() if n > 1} == {}  # no URL crawled twice
    # polite as a single crawl: each worker read robots.txt, every request says who we are
    assert Counter(h.path for h in hits)[ROBOTS] == 2
    assert {h.user_agent.split(" ")[0].split("/")[0] for h in hits} == {"complaintwatch"}
    assert {t.page_path for t in truth} <= set(fetched)
    # both did work, and everything fetched came from the shared queue
    assert a.taken() > 0 and b.taken() > 0, (a.taken(), b.taken())
    assert a.taken() + b.taken() == sum(fetched.values())
    assert "start URLs seeded" in a.stdout() + b.stdout()
    # every post stored, once
    expected = {canonical_url(site.base_url + t.path) for t in truth}
    urls = _stored(store)
    assert len(urls) == len(set(urls)) == len(expected)
    assert set(urls) == expected
    # a finished crawl leaves nothing behind: the next run is a fresh re-crawl
    assert _crawl_keys(redis.Redis.from_url(redis_url), start) == []


@pytest.mark.slow
@pytest.mark.es
@pytest.mark.parametrize("store", ["es"], indirect=True)
def test_a_killed_worker_loses_nothing(store, forum, redis_url, spawn):
    site_def, truth = forum
    r = redis.Redis.from_url(redis_url)
    with SiteServer(site_def.root, latency=0.4) as site:
        start = f"{site.base_url}/sitemap.xml"
        prefix = frontier_key(SimpleNamespace(name="forum", start_urls=[start]))
        cmd = _cmd(store.url, start, redis_url, heartbeat=3)
        a, b = spawn("a", cmd), spawn("b", cmd)

        def a_inflight() -> list[bytes]:
            keys = r.keys(f"{prefix}:inflight:*:{a.proc.pid}:*")
            return r.zrange(keys[0], 0, -1) if keys else []

        # Kill A once it holds more pages than it can fetch at once (16): some
        # are fetched and parsed, their posts not yet committed to the store.
        deadline = time.monotonic() + 120
        while len(a_inflight()) <= BUSY and a.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        a.proc.send_signal(signal.SIGKILL)
        assert a.wait() == -signal.SIGKILL
        held = a_inflight()
        assert len(held) > BUSY, a.stderr()
        held_paths = {pickle.loads(blob)["url"].removeprefix(site.base_url) for blob in held}

        assert b.wait() == 0, b.stderr()
        hits = site.take_hits()

    # B put back exactly what A held
    assert b.requeued() == len(held), b.stdout()
    fetched = Counter(h.path for h in hits if h.path != ROBOTS)
    assert {t.page_path for t in truth} <= set(fetched)  # no page lost
    # what A had fetched but not committed was fetched again, and nothing else
    again = {p for p, n in fetched.items() if n > 1}
    assert again and again <= held_paths, (again, held_paths)
    expected = {canonical_url(site.base_url + t.path) for t in truth}
    urls = _stored(store)
    assert len(urls) == len(set(urls)) == len(expected)  # every post, no duplicates
    assert set(urls) == expected
    assert _crawl_keys(r, start) == []
