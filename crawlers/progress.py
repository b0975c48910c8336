"""Progress on stderr for long crawls (Scrapy's LogStats only logs per minute)."""

from __future__ import annotations

import sys
import time

from scrapy import signals


class CrawlProgress:
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

    def _tick(self, spider) -> None:
        now = time.monotonic()
        if self.enabled and now - self._last > 0.5:
            self._last = now
            sys.stderr.write(f"\r  crawl {spider.name}: {self.pages} pages, {self.items} posts ")
            sys.stderr.flush()

    def spider_closed(self, spider, reason):
        if self.enabled:
            sys.stderr.write(f"\r  crawl {spider.name}: {self.pages} pages, {self.items} posts ({reason})\n")
