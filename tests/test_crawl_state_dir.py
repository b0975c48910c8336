"""The HTTP cache works wherever `complaintwatch crawl` runs. Run from a
folder outside the repository (no scrapy.cfg above it, as for a
pip-installed user), Scrapy used to log "Unable to find scrapy.cfg file to
infer project data dir", disable the cache and download everything again on
every re-crawl. Now the cache lives in the state folder
($COMPLAINTWATCH_STATE_DIR, default ./.complaintwatch) as an absolute path:
a re-crawl is served from the cache (the server only sees revalidations,
answered 304)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.hostile_helpers import REPO, article, cli, summary
from tests.test_crawl_site import SiteServer

OLD = time.mktime((2021, 3, 1, 12, 0, 0, 0, 0, -1))


def _outside_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    assert REPO not in path.resolve().parents
    assert not any((p / "scrapy.cfg").exists() for p in [path, *path.resolve().parents])
    return path


def _crawl(site: SiteServer, store: Path, cwd: Path, state_dir: Path | None = None):
    urls = [f"{site.base_url}/a.html", f"{site.base_url}/b.html"]
    proc = cli("--store", f"sqlite:///{store}", "crawl", "blog", *urls, cwd=cwd, state_dir=state_dir)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "scrapy.cfg" not in proc.stderr and "Disabled" not in proc.stderr, proc.stderr[-4000:]
    return proc, site.take_hits()


def test_recrawl_outside_the_repo_is_served_from_the_cache(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    (root / "a.html").write_text(article("Lost parcel", "The courier lost my parcel twice."), encoding="utf-8")
    (root / "b.html").write_text(article("Refund refused", "No refund for a broken kettle."), encoding="utf-8")
    for f in root.iterdir():
        os.utime(f, (OLD, OLD))
    home = _outside_repo(tmp_path / "home")
    store = tmp_path / "cw.db"
    with SiteServer(root) as site:
        first, hits1 = _crawl(site, store, cwd=home)  # no COMPLAINTWATCH_STATE_DIR: ./.complaintwatch
        second, hits2 = _crawl(site, store, cwd=home)
    assert sorted((h.path, h.status) for h in hits1) == [("/a.html", 200), ("/b.html", 200), ("/robots.txt", 200)]
    assert summary(first)["crawled"].endswith(" 2 new, 0 updated, 0 unchanged posts; 0 skipped")
    cache = home / ".complaintwatch" / "httpcache"
    assert cache.is_dir() and any(p.name == "response_body" for p in cache.rglob("*"))
    # the second run is served from the cache: revalidated, answered 304, nothing downloaded
    assert sorted(h.path for h in hits2) == ["/a.html", "/b.html", "/robots.txt"]
    assert all(h.status == 304 and h.if_none_match for h in hits2), hits2
    assert summary(second)["crawled"].endswith(" 0 new, 0 updated, 2 unchanged posts; 0 skipped")
    assert not (home / ".scrapy").exists()


def test_cache_and_jobdir_paths_are_absolute_in_the_state_dir(tmp_path, monkeypatch):
    """Whatever the working directory, the paths Scrapy gets are absolute, so
    it never needs a scrapy.cfg to place them."""
    from crawlers.runner import crawl_settings

    monkeypatch.setenv("SCRAPY_SETTINGS_MODULE", "crawlers.settings")
    here = _outside_repo(tmp_path / "anywhere").resolve()
    monkeypatch.chdir(here)
    monkeypatch.delenv("COMPLAINTWATCH_STATE_DIR", raising=False)
    settings = crawl_settings("sqlite:///cw.db")
    assert settings["HTTPCACHE_DIR"] == str(here / ".complaintwatch" / "httpcache")
    monkeypatch.setenv("COMPLAINTWATCH_STATE_DIR", "rel/state")
    settings = crawl_settings("sqlite:///cw.db", jobdir=Path("jobs/one"))
    assert settings["HTTPCACHE_DIR"] == str(here / "rel" / "state" / "httpcache")
    assert settings["JOBDIR"] == str(here / "jobs" / "one")
    settings = crawl_settings("sqlite:///cw.db", cache_dir=Path("mycache"))
    assert settings["HTTPCACHE_DIR"] == str(here / "mycache")
