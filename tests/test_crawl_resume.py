"""`complaintwatch crawl --jobdir` resumes for real, through the CLI in a
subprocess, on the demo forum (thread pages link to their page 2, so a page
lost from the frontier would lose posts), served slowly enough to stop it
part-way:

1. run 1 is SIGKILLed right after the store's first commit;
2. run 2 (same command) resumes: it requests no page that run 1 finished
   (done in JOBDIR/requests.journal), only the ones run 1 had queued, in
   flight or not yet committed; it is stopped with SIGTERM (graceful);
3. run 3 resumes after the graceful stop without re-requesting anything
   run 2 fetched, and finishes.

In the end the store holds exactly the posts of the truth manifest, no
duplicates (`complaintwatch check` exits 0), and the journal has nothing
pending.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from scrapy import Request
from scrapy.utils.request import RequestFingerprinter

import complaintwatch.demosite as demosite
from complaintwatch.models import canonical_url
from crawlers.frontier import JOURNAL, Journal
from tests.test_crawl_site import SiteServer

REPO = Path(__file__).resolve().parents[1]
START = {"/robots.txt", "/sitemap.xml"}  # requested by every run


def _count(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM posts").fetchone()[0]
    except sqlite3.Error:
        return 0


def _crawl(cmd: list[str], stop: signal.Signals | None = None, when=lambda: False) -> subprocess.CompletedProcess:
    """Run the CLI; send `stop` as soon as `when()` is true (polled every 20 ms)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while stop is not None and proc.poll() is None and time.monotonic() < deadline:
        if when():
            proc.send_signal(stop)
            break
        time.sleep(0.02)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _done_paths(jobdir: Path, base: str, paths: set[str]) -> set[str]:
    seen, pending, _ = Journal(jobdir / JOURNAL).replay()
    fp = RequestFingerprinter().fingerprint
    return {p for p in paths if fp(Request(base + p)) in seen and fp(Request(base + p)) not in pending}


def test_kill_then_resume_then_graceful_stop_then_resume(tmp_path):
    sites = demosite.build_demo_sites(tmp_path / "sites")
    forum = next(s for s in sites if s.name == "forum")
    truth = demosite.truth_manifest([forum])
    store, jobdir = tmp_path / "store.db", tmp_path / "job"
    with SiteServer(forum.root, latency=0.1) as site:
        cmd = [sys.executable, "-m", "complaintwatch", "--store", f"sqlite:///{store}", "crawl", "forum"]
        cmd += [f"{site.base_url}/sitemap.xml", "--jobdir", str(jobdir), "--no-cache"]

        first = _crawl(cmd, signal.SIGKILL, lambda: _count(store) > 0)
        hits1 = {h.path for h in site.take_hits()}
        n1 = _count(store)
        assert first.returncode == -signal.SIGKILL and 0 < n1 < len(truth), (n1, first.stderr[-2000:])
        done1 = _done_paths(jobdir, site.base_url, hits1 - START)
        assert len(done1) >= 10  # at least the pages of the first commit

        second = _crawl(cmd, signal.SIGTERM, lambda: _count(store) > n1)
        hits2 = {h.path for h in site.take_hits()}
        n2 = _count(store)
        assert second.returncode == 0 and "crawled" in second.stdout, second.stderr[-2000:]
        assert n1 < n2 < len(truth)
        # resumed, not restarted: nothing run 1 finished is fetched again ...
        assert hits2 & done1 == set()
        # ... only what it had not finished (queued, in flight, or posts not yet committed)
        refetched = (hits1 & hits2) - START
        assert len(refetched) < len(hits1 - START) / 2

        third = _crawl(cmd)
        hits3 = {h.path for h in site.take_hits()}
        assert third.returncode == 0, third.stderr[-2000:]
        # after a graceful stop nothing is fetched twice
        assert (hits2 & hits3) - START == set()

    expected = {canonical_url(site.base_url + p.path) for p in truth}
    with sqlite3.connect(store) as db:
        urls = [u for (u,) in db.execute("SELECT url FROM posts")]
    assert len(urls) == len(set(urls)) == len(expected)
    assert set(urls) == expected
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    check = subprocess.run(
        [sys.executable, "-m", "complaintwatch", "--store", f"sqlite:///{store}", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout
    # the journal has nothing left to do, and Scrapy's requests.seen has every page
    _, pending, _ = Journal(jobdir / JOURNAL).replay()
    assert pending == {}
    seen = (jobdir / "requests.seen").read_bytes()
    fp = RequestFingerprinter().fingerprint
    pages = (hits1 | hits2 | hits3) - START
    assert all(fp(Request(site.base_url + p)) in seen for p in pages)


ARTICLE = """<!doctype html><html lang="en"><head><meta property="og:title" content="{title}">
<meta property="article:published_time" content="2024-01-05T10:00:00+00:00"></head>
<body class="single single-post"><article class="post"><div class="entry-content"><p>{title}: the shop lost
my parcel and refuses to refund.</p></div></article></body></html>"""


def test_finished_job_leaves_nothing_pending(tmp_path):
    """Redirects, 404s and robots.txt Disallows are finished too: a rerun of a
    finished job only asks for robots.txt and the start URL."""
    root = tmp_path / "site"
    for name in ("a/index.html", "b/index.html", "private/x.html"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(ARTICLE.format(title=name), encoding="utf-8")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n", encoding="utf-8")
    locs = "".join(f"<url><loc>__BASE_URL__{p}</loc></url>" for p in ("/a/", "/b", "/missing.html", "/private/x.html"))
    (root / "sitemap.xml").write_text(
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
    )
    store, jobdir = tmp_path / "store.db", tmp_path / "job"
    with SiteServer(root) as site:
        cmd = [sys.executable, "-m", "complaintwatch", "--store", f"sqlite:///{store}", "crawl", "blog"]
        cmd += [f"{site.base_url}/sitemap.xml", "--jobdir", str(jobdir), "--no-cache"]
        first = _crawl(cmd)
        hits1 = [(h.path, h.status) for h in site.take_hits()]
        second = _crawl(cmd)
        hits2 = [(h.path, h.status) for h in site.take_hits()]
    assert first.returncode == second.returncode == 0, first.stderr[-2000:] + second.stderr[-2000:]
    assert sorted(hits1) == sorted(
        [("/robots.txt", 200), ("/sitemap.xml", 200), ("/a/", 200), ("/b", 301), ("/b/", 200), ("/missing.html", 404)]
    )
    assert _count(store) == 2
    assert Journal(jobdir / JOURNAL).replay()[1] == {}
    assert sorted(hits2) == [("/robots.txt", 200), ("/sitemap.xml", 200)]


def test_journal_replay_compaction_and_a_line_cut_by_the_kill(tmp_path):
    a, b, c, d = (bytes([i]) * 20 for i in range(1, 5))
    path = tmp_path / JOURNAL
    path.write_text(
        f"+ {a.hex()} 0 AAA\n+ {b.hex()} 0 BBB\n- {a.hex()}\n= {c.hex()}\n+ {d.hex()} 1 DDD\n+ {b.hex()[:9]}",
        encoding="ascii",
    )
    journal = Journal(path)
    seen, pending, _ = journal.replay()
    assert seen == {a, b, c}  # d is dont_filter: scheduled again, never "seen"
    assert pending == {b: "BBB", d: "DDD"}
    journal.rewrite(seen, pending)
    assert journal.replay()[:2] == (seen, pending)
    assert sorted(path.read_text().splitlines()) == sorted(
        [f"= {a.hex()}", f"= {c.hex()}", f"+ {b.hex()} 0 BBB", f"+ {d.hex()} 1 DDD"]
    )
