"""Progress on stderr for long crawls (Scrapy's LogStats only logs per minute)."""

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
