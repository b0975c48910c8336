"""The crawl summary says per start URL how many posts were found, and names a
start URL where none were recognised instead of a silent 0 (the real CLI
against a local server: a real saved XenForo thread, an unknown page, a 404)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.crawl_helpers import serve_directory
from tests.hostile_helpers import cli, summary

PAGES = Path(__file__).resolve().parents[1].parent / "shared" / "pages"
XENFORO = "forum_xenforo__de__katzen-forum_thread.html"
PHPBB = "forum_phpbb__de__myoos_viewtopic.html"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("summary")
    site = tmp / "site"
    site.mkdir()
    for name in (XENFORO, PHPBB):
        shutil.copy(PAGES / name, site / name)
    (site / "plain.html").write_text("<html><body><p>Nothing to see.</p></body></html>", encoding="utf-8")
    with serve_directory(site) as base:
        urls = [f"{base}/{XENFORO}", f"{base}/plain.html", f"{base}/{PHPBB}", f"{base}/missing.html"]
        proc = cli("--store", f"sqlite:///{tmp / 'cw.db'}", "crawl", "forum", *urls, "--no-cache", cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc, urls


def test_each_start_url_has_its_post_count(run):
    proc, (xenforo, plain, phpbb, missing) = run
    lines = proc.stdout.splitlines()
    assert f"{xenforo}: 18 posts" in lines
    assert f"{phpbb}: 1 post" in lines
    assert f"{plain}: 0 posts: no posts recognised (engine unknown)" in lines
    assert f"{missing}: 0 posts (see skipped)" in lines
    # in the order they were given, after the totals
    order = [next(i for i, ln in enumerate(lines) if ln.startswith(f"{u}:")) for u in (xenforo, plain, phpbb, missing)]
    assert sorted(order) == order
    got = summary(proc)
    assert got["crawled"].endswith(" 19 new, 0 updated, 0 unchanged posts; 2 skipped")
    assert got["skipped"] == "1 HTTP error, 1 page with no posts recognised (engine unknown)"
