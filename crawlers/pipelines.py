"""Item pipelines, one job each: validate -> date -> build Post -> store."""

from __future__ import annotations

import logging
from datetime import datetime

from scrapy.exceptions import DropItem

from complaintwatch.models import Post, SiteKind, site_of, utcnow
from indexer.companies import CompanyResolver
from indexer.language import detect_language
from indexer.store import open_store

from .extraction.company_reply import looks_like_company_reply
from .extraction.dates import parse_published
from .items import PostItem

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 200_000  # a longer "post" is a dump, not a complaint


class ValidatePipeline:
    """Drop what cannot be a post (empty text, bad kind), trim what is too long."""

    def process_item(self, item, spider=None):
        if not isinstance(item, PostItem):
            return item
        item.title = " ".join((item.title or "").split())[:500]
        item.text = (item.text or "").strip()
        if not item.text:
            raise DropItem(f"empty post at {item.url}")
        if item.site_kind not in SiteKind._value2member_map_:
            raise DropItem(f"unknown site kind {item.site_kind!r} at {item.url}")
        if len(item.text) > MAX_TEXT_CHARS:
            log.warning("truncated %d-char post at %s", len(item.text), item.url)
            item.text = item.text[:MAX_TEXT_CHARS]
        return item


class DatePipeline:
    """Raw page dates ("27 декабря 2022", "Jan 07, 2013 11:48") -> aware datetimes.
    An unparseable or future date is logged and left empty, never guessed."""

    def process_item(self, item, spider=None):
        if isinstance(item, PostItem) and not isinstance(item.published, datetime):
            raw = item.published
            item.published = parse_published(raw, languages=[item.language] if item.language else None)
            if raw and item.published is None:
                log.info("unparseable date %r at %s", raw, item.url)
        return item


class BuildPostPipeline:
    """PostItem -> Post: language, company-reply flag, source site."""

    def __init__(self):
        self.resolver = CompanyResolver.default()
        self._names = [n for c in self.resolver.companies.values() for n in (c.name, *c.aliases)]

    def process_item(self, item, spider=None):
        if not isinstance(item, PostItem):
            return item
        is_reply = item.is_company_reply
        if is_reply is None:
            is_reply = item.parent_url is not None and (
                looks_like_company_reply(item.author, item.author_badge, item.text, self._names)
            )
        return Post(
            url=item.url,
            source_site=site_of(item.url),
            site_kind=SiteKind(item.site_kind),
            title=item.title,
            text=item.text,
            author=(item.author or "").strip() or None,
            published_at=item.published if isinstance(item.published, datetime) else None,
            language=item.language or detect_language(f"{item.title}\n{item.text}"),
            parent_url=item.parent_url,
            thread_url=item.thread_url or (None if item.parent_url else item.url),
            position=item.position,
            is_company_reply=bool(is_reply),
            fetched_at=utcnow(),
            subject=(item.company_hint or "").strip() or None,
        )


class StorePipeline:
    """Upsert Posts into the store in batches; whatever was scraped before a
    crash is already committed, and re-crawls update in place."""

    def __init__(self, store_url: str, batch: int, stats=None):
        self.stats = stats
        self.store_url = store_url
        self.batch = batch
        self.buffer: list[Post] = []
        self.store = None

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        return cls(s.get("COMPLAINTWATCH_STORE"), s.getint("COMPLAINTWATCH_STORE_BATCH", 200), crawler.stats)

    def open_spider(self, spider=None):
        self.store = open_store(self.store_url)

    def process_item(self, item, spider=None):
        if isinstance(item, Post):
            self.buffer.append(item)
            if len(self.buffer) >= self.batch:
                self._flush()
        return item

    def _flush(self) -> None:
        if not self.buffer:
            return
        res = self.store.upsert_posts(self.buffer)
        self.buffer = []
        if self.stats is not None:
            self.stats.inc_value("complaintwatch/new", res.new)
            self.stats.inc_value("complaintwatch/updated", res.updated)
            self.stats.inc_value("complaintwatch/unchanged", res.unchanged)

    def close_spider(self, spider=None):
        self._flush()
        self.store.close()
