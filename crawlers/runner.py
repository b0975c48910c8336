"""Run spiders from Python (the CLI and the demo) with the project settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CrawlJob:
    spider: str  # spider name: blog, forum, reviews, reddit, pikabu, vcru
    start_urls: list[str]


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"


def default_cache_dir() -> Path:
    """The HTTP cache in the state folder ($COMPLAINTWATCH_STATE_DIR, default
    ./.complaintwatch), as an absolute path: Scrapy puts a relative
    HTTPCACHE_DIR under the project data dir it finds from scrapy.cfg, and
    outside the repository (a pip-installed user) there is none, so it would
    disable the cache ("Unable to find scrapy.cfg file to infer project data dir")."""
    from complaintwatch.config import load_settings

    return load_settings().state_dir.resolve() / "httpcache"


def crawl_settings(
    store_url: str,
    *,
    jobdir: Path | None = None,
    cache_dir: Path | None = None,
    http_cache: bool = True,
    progress: bool = False,
    loopback: bool = False,
    log_level: str = "WARNING",
    max_pages: int | None = None,
    max_pagination_depth: int | None = None,
) -> Settings:
    """Project settings plus the run's options. `cache_dir` defaults to
    `default_cache_dir()`; relative paths are made absolute here, so the
    cache and the crawl state are where the caller meant wherever Scrapy
    thinks the project is. `max_pages` / `max_pagination_depth` override the
    bounds in crawlers/settings.py (0 = no limit)."""
    import os

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawlers.settings")
    settings = get_project_settings()
    settings.set("COMPLAINTWATCH_STORE", str(store_url), priority="cmdline")
    settings.set("COMPLAINTWATCH_PROGRESS", progress, priority="cmdline")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    settings.set("HTTPCACHE_ENABLED", http_cache, priority="cmdline")
    cache = Path(cache_dir).resolve() if cache_dir is not None else default_cache_dir()
    settings.set("HTTPCACHE_DIR", str(cache), priority="cmdline")
    if jobdir is not None:
        settings.set("JOBDIR", str(Path(jobdir).resolve()), priority="cmdline")
    if max_pages is not None:
        settings.set("COMPLAINTWATCH_MAX_PAGES_PER_SITE", max_pages, priority="cmdline")
    if max_pagination_depth is not None:
        settings.set("COMPLAINTWATCH_MAX_PAGINATION_DEPTH", max_pagination_depth, priority="cmdline")
    if loopback:
        for k, v in settings.getdict("LOOPBACK_OVERRIDES").items():
            settings.set(k, v, priority="cmdline")
    return settings


def run_crawls(jobs: list[CrawlJob], settings: Settings) -> dict[str, dict]:
    """Run the jobs concurrently in one Twisted reactor; returns stats per spider.
    A reactor runs once per process, so call this once (the CLI does)."""
    # the CLI owns the root log handler; Scrapy's would print INFO stats dumps
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    process = CrawlerProcess(settings)
    for name in ("scrapy", "twisted", "py.warnings"):
        logging.getLogger(name).setLevel(settings.get("LOG_LEVEL"))
    crawlers = []
    for job in jobs:
        crawler = process.create_crawler(job.spider)
        crawlers.append((job.spider, crawler))
        process.crawl(crawler, start_urls=",".join(job.start_urls))
    process.start()
    return {name: dict(c.stats.get_stats()) for name, c in crawlers}


def all_loopback(jobs: list[CrawlJob]) -> bool:
    return all(_is_loopback(u) for j in jobs for u in j.start_urls)
