"""Progress on stderr for long crawls (Scrapy's LogStats only logs per minute),
and the crawl summary's skip and bound counts."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from scrapy import Request, signals

# request.meta key: the start URL a request descends from (set on start
# requests, handed down to every request a page yields).
START_URL = "cw_start_url"
START_POSTS = "complaintwatch/start_posts/"  # + start URL: posts found under it
START_UNRECOGNISED = "complaintwatch/start_unrecognised/"  # + start URL: pages with no posts recognised


class CrawlProgress:
    # one line for all spiders running in this process (the demo runs three)
    _all: dict[str, tuple[int, int]] = {}

    def __init__(self, crawler, enabled: bool):
        self.crawler = crawler
        self.enabled = enabled
        self.items = 0
        self.pages = 0
        self._last = 0.0

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler, crawler.settings.getbool("COMPLAINTWATCH_PROGRESS"))
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def response_received(self, response, request, spider):
        self.pages += 1
        self._tick(spider)

    def item_scraped(self, item, response, spider):
        self.items += 1
        start = response.meta.get(START_URL) if response is not None and response.request is not None else None
        if start and self.crawler.stats is not None:
            self.crawler.stats.inc_value(START_POSTS + start)
        self._tick(spider)

    def _tick(self, spider, force: bool = False) -> None:
        now = time.monotonic()
        CrawlProgress._all[spider.name] = (self.pages, self.items)
        if self.enabled and (force or now - self._last > 0.5):
            self._last = now
            parts = [f"{name} {p} pages/{i} posts" for name, (p, i) in sorted(CrawlProgress._all.items())]
            sys.stderr.write("\r  crawl: " + " · ".join(parts) + " ")
            sys.stderr.flush()

    def spider_closed(self, spider, reason):
        self._tick(spider, force=True)


class StartUrlMiddleware:
    """Spider middleware: tags every request with the start URL it descends
    from, so the summary can say how many posts each start URL gave (every
    start URL is listed, with 0 when nothing came of it)."""

    def __init__(self, crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for obj in start:
            if isinstance(obj, Request):
                url = obj.meta.setdefault(START_URL, obj.url)
                self.stats.inc_value(START_POSTS + url, 0)
            yield obj

    @staticmethod
    def _tag(response, obj: Any) -> Any:
        if isinstance(obj, Request) and START_URL not in obj.meta and (start := response.meta.get(START_URL)):
            obj.meta[START_URL] = start
        return obj

    def process_spider_output(self, response, result: Iterable[Any], spider=None) -> Iterable[Any]:
        for obj in result:
            yield self._tag(response, obj)

    async def process_spider_output_async(self, response, result: AsyncIterator[Any], spider=None):
        async for obj in result:
            yield self._tag(response, obj)


def start_url_posts(stats: dict) -> list[tuple[str, int, int]]:
    """(start URL, posts found, pages with no posts recognised) per start URL."""
    return [
        (key[len(START_POSTS) :], int(n or 0), int(stats.get(START_UNRECOGNISED + key[len(START_POSTS) :], 0) or 0))
        for key, n in stats.items()
        if isinstance(key, str) and key.startswith(START_POSTS)
    ]


# (label, stats key): every kind of skip, each also logged at INFO or above
# where it happens. Pages first, then posts; no event is counted under two.
SKIPS = (
    ("robots.txt", "robotstxt/forbidden"),
    ("redirect loop", "complaintwatch/skipped/redirect_loop"),
    ("too many redirects", "complaintwatch/skipped/too_many_redirects"),
    ("failed download", "complaintwatch/skipped/download_failed"),
    ("HTTP error", "httperror/response_ignored_count"),
    ("Retry-After over the cap", "complaintwatch/skipped/retry_after_too_long"),
    ("oversize", "complaintwatch/too_large_skipped"),
    ("taken-down page", "complaintwatch/skipped/taken_down"),
    ("over page budget", "complaintwatch/skipped/page_budget"),
    ("empty post", "complaintwatch/empty_skipped"),
    ("post under another site's URL", "complaintwatch/foreign_url_skipped"),
    ("post with a script URL", "complaintwatch/unsafe_url_skipped"),
    ("script link not followed", "complaintwatch/unsafe_link_skipped"),
    ("page with no posts recognised (engine unknown)", "complaintwatch/no_posts_recognised"),
    ("dropped post", "item_dropped_count"),
)
# (label, stats key, unit): crawl bounds that stopped part of a crawl.
BOUNDS = (
    ("page budget", "complaintwatch/bounds/page_budget", "site"),
    ("pagination depth limit", "complaintwatch/bounds/pagination_depth", "chain"),
    ("repeating content", "complaintwatch/bounds/content_loop", "chain"),
)


def skip_counts(stats: dict) -> dict[str, int]:
    return {label: int(stats.get(key, 0) or 0) for label, key in SKIPS}


def summary_lines(stats: dict) -> list[str]:
    """The crawl summary the CLI prints: pages and posts, the skips by kind,
    posts found per start URL (a 0 says why where it is known), and the bounds
    that stopped part of the crawl (only non-zero ones)."""
    skips = skip_counts(stats)
    lines = [
        f"crawled {stats.get('response_received_count', 0)} pages: "
        f"{stats.get('complaintwatch/new', 0)} new, {stats.get('complaintwatch/updated', 0)} updated, "
        f"{stats.get('complaintwatch/unchanged', 0)} unchanged posts; {sum(skips.values())} skipped"
    ]
    if any(skips.values()):
        lines.append("skipped: " + ", ".join(f"{n} {label}" for label, n in skips.items() if n))
    for url, posts, unrecognised in start_url_posts(stats):
        if posts:
            lines.append(f"{url}: {posts} post{'s' * (posts != 1)}")
        elif unrecognised:
            lines.append(f"{url}: 0 posts: no posts recognised (engine unknown)")
        else:
            lines.append(f"{url}: 0 posts (see skipped)" if any(skips.values()) else f"{url}: 0 posts")
    bounds = [(label, int(stats.get(key, 0) or 0), unit) for label, key, unit in BOUNDS]
    if any(n for _, n, _ in bounds):
        lines.append(
            "stopped by bounds: "
            + ", ".join(f"{label} on {n} {unit}{'s' * (n != 1)}" for label, n, unit in bounds if n)
        )
    return lines
