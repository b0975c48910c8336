"""Progress on stderr for long crawls (Scrapy's LogStats only logs per minute),
and the crawl summary's skip and bound counts."""

from __future__ import annotations

import sys
import time

from scrapy import signals


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
    """The crawl summary the CLI prints: pages and posts, then the skips by
    kind and the bounds that stopped part of the crawl (only non-zero ones)."""
    skips = skip_counts(stats)
    lines = [
        f"crawled {stats.get('response_received_count', 0)} pages: "
        f"{stats.get('complaintwatch/new', 0)} new, {stats.get('complaintwatch/updated', 0)} updated, "
        f"{stats.get('complaintwatch/unchanged', 0)} unchanged posts; {sum(skips.values())} skipped"
    ]
    if any(skips.values()):
        lines.append("skipped: " + ", ".join(f"{n} {label}" for label, n in skips.items() if n))
    bounds = [(label, int(stats.get(key, 0) or 0), unit) for label, key, unit in BOUNDS]
    if any(n for _, n, _ in bounds):
        lines.append(
            "stopped by bounds: "
            + ", ".join(f"{label} on {n} {unit}{'s' * (n != 1)}" for label, n, unit in bounds if n)
        )
    return lines
