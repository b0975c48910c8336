"""Downloader middlewares that keep a crawl safe: the takedown list is never
fetched, and a page over DOWNLOAD_MAXSIZE is a logged skip, not an error."""

from __future__ import annotations

import logging

from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from twisted.internet.defer import CancelledError

try:
    from scrapy.exceptions import DownloadCancelledError
except ImportError:  # older Scrapy cancels the download's Deferred instead
    DownloadCancelledError = CancelledError

from indexer.store import open_store
from indexer.store.base import is_taken_down

log = logging.getLogger(__name__)


class TakedownMiddleware:
    """Refuse every request for a URL on the store's takedown list
    (`complaintwatch takedown add URL`), read once when the spider opens.
    StorePipeline drops posts of listed URLs that arrive another way (a
    full-content feed entry, a listing page)."""

    def __init__(self, store_url: str, stats=None):
        self.store_url = store_url
        self.stats = stats
        self.listed: frozenset[str] = frozenset()

    @classmethod
    def from_crawler(cls, crawler):
        mw = cls(crawler.settings.get("COMPLAINTWATCH_STORE"), crawler.stats)
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        return mw

    def spider_opened(self, spider=None):
        with open_store(self.store_url) as store:
            self.listed = frozenset(store.takedowns())
        if self.listed:
            log.info("%d taken-down URLs will not be crawled", len(self.listed))

    def process_request(self, request, spider=None):
        if is_taken_down(request.url, self.listed):
            log.info("skipped taken-down URL %s", request.url)
            if self.stats is not None:
                self.stats.inc_value("complaintwatch/taken_down_skipped")
            raise IgnoreRequest(f"taken down: {request.url}")
        return None


class SkipOversizeMiddleware:
    """A download Scrapy cancelled (over DOWNLOAD_MAXSIZE: it logged the size
    already) becomes one warning and a stat instead of an error with a
    traceback; the crawl goes on."""

    def __init__(self, stats=None, maxsize: int = 0):
        self.stats = stats
        self.maxsize = maxsize

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats, crawler.settings.getint("DOWNLOAD_MAXSIZE"))

    def process_exception(self, request, exception, spider=None):
        if isinstance(exception, (DownloadCancelledError, CancelledError)):
            log.warning("skipped %s: download cancelled (over DOWNLOAD_MAXSIZE=%d bytes)", request.url, self.maxsize)
            if self.stats is not None:
                self.stats.inc_value("complaintwatch/too_large_skipped")
            raise IgnoreRequest(f"too large: {request.url}")
        return None
