"""Item pipelines, one job each: validate -> date -> build Post -> store."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime

from scrapy.exceptions import DropItem

from complaintwatch.companies import Company, builtin_companies, is_common_word
from complaintwatch.language import detect_language
from complaintwatch.models import Post, SiteKind, site_of, utcnow
from complaintwatch.sites import SITE_STATE, SiteRecord
from indexer.store import open_store
from indexer.store.base import Store, UpsertResult, is_taken_down

from . import frontier
from .extraction.company_reply import core_words, looks_like_company_reply
from .extraction.dates import parse_published
from .items import PostItem

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 200_000  # a longer "post" is a dump, not a complaint
# lone surrogates (a JSON "\ud83d" cut in half) and control characters: no
# store, feed or export can take them
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def storable(value: str | None) -> str | None:
    return _UNSTORABLE.sub("\ufffd", value) if value else value


_AUTHOR_BADGES = {"post author", "blog author"}  # what the blog spider sets for WordPress/Blogger


class ValidatePipeline:
    """Drop what cannot be a post (empty text, bad kind), trim what is too long."""

    def process_item(self, item, spider=None):
        if not isinstance(item, PostItem):
            return item
        item.title = " ".join(storable(item.title or "").split())[:500]
        item.text = storable(item.text or "").strip()
        item.author = storable(item.author)
        item.company_hint = storable(item.company_hint)
        if not item.text:
            raise DropItem(f"empty post at {item.url}")
        if item.site_kind not in SiteKind._value2member_map_:
            raise DropItem(f"unknown site kind {item.site_kind!r} at {item.url}")
        if len(item.text) > MAX_TEXT_CHARS:
            log.warning("truncated %d-char post at %s", len(item.text), item.url)
            item.text = item.text[:MAX_TEXT_CHARS]
        return item


class SourceCompanyPipeline:
    """A source declared about a company (`crawl --about ID`, sources.toml
    `company`): its posts carry that company as their subject, unless the page
    names its own (a review page's reviewed company)."""

    def __init__(self, company: str | None):
        self.company = (company or "").strip() or None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.get("COMPLAINTWATCH_SOURCE_COMPANY"))

    def process_item(self, item, spider=None):
        if self.company and isinstance(item, PostItem) and not item.company_hint:
            item.company_hint = self.company
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


def _common(name: str) -> bool:
    words = core_words(name)
    return bool(words) and all(is_common_word(w) for w in words)


def reply_names(companies: Iterable[Company]) -> tuple[list[str], list[str], list[str]]:
    """The names an author account is matched against (looks_like_company_reply):
    (names, common-word aliases, common-word display names). An alias that is a
    common word ("Chase", "Target", "Ally", "chase.com", "Коробка") names the
    company only with an official marker in the account name ("Chase Support")
    or when the account carries the company's full display name."""
    names: list[str] = []
    common: list[str] = []
    common_display: list[str] = []
    for c in companies:
        (common_display if _common(c.name) else names).append(c.name)
        for alias in c.aliases:
            (common if _common(alias) else names).append(alias)
    return names, common, common_display


class SiteNamePipeline:
    """The site name a post's page gave (PostItem.site_name, crawlers/sitenames.py) into the
    store's app state, once per host and crawl (complaintwatch/sites.py): a name the site
    declares is never replaced by one read off a page title. A store that refuses it costs
    the name, never the post."""

    def __init__(self, store_url: str):
        self.store_url = store_url
        self.store: Store | None = None  # opened on the first name to keep
        self.seen: dict[str, SiteRecord] = {}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.get("COMPLAINTWATCH_STORE"))

    def process_item(self, item, spider=None):
        if isinstance(item, PostItem) and item.site_name:
            try:
                host = site_of(item.url)
                rec = SiteRecord(name=item.site_name, kind=item.site_kind, source=item.site_name_source or "title")
            except ValueError as exc:
                log.info("site name %r of %s not kept: %s", item.site_name, item.url, exc)
                return item
            if self.seen.get(host) != rec:
                self.seen[host] = rec
                self._keep(host, rec)
        return item

    def _keep(self, host: str, rec: SiteRecord) -> None:
        try:
            if self.store is None:
                self.store = open_store(self.store_url)
            old = self.store.state_get(SITE_STATE, host)
            if rec.replaces(SiteRecord.model_validate(old) if old else None):
                self.store.state_put(SITE_STATE, host, rec.model_dump())
        except Exception as exc:
            log.warning("site name of %s not stored: %s", host, exc)

    def close_spider(self, spider=None):
        if self.store is not None:
            self.store.close()
            self.store = None


class BuildPostPipeline:
    """PostItem -> Post: language, company-reply flag, source site."""

    def __init__(self):
        companies = builtin_companies()  # the company table only: mentions are the indexer's job
        self._names, self._common, self._common_display = reply_names(companies)
        self._domains = {d.lower().removeprefix("www.") for c in companies for d in c.domains}

    def _company_site(self, url: str) -> bool:
        host = site_of(url).split(":")[0]
        return any(host == d or host.endswith("." + d) for d in self._domains)

    def process_item(self, item, spider=None):
        if not isinstance(item, PostItem):
            return item
        is_reply = item.is_company_reply
        if is_reply is None:
            is_reply = item.parent_url is not None and (
                looks_like_company_reply(
                    item.author, item.author_badge, item.text, self._names, self._common, self._common_display
                )
                # the post's own author answering on the company's own blog
                or (item.author_badge in _AUTHOR_BADGES and self._company_site(item.url))
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
            rating=item.rating if isinstance(item.rating, int) and 1 <= item.rating <= 5 else None,
        )


class StorePipeline:
    """Upsert Posts into the store in batches; whatever was scraped before a
    crash is already committed, and re-crawls update in place."""

    def __init__(self, store_url: str, batch: int, stats=None, signals=None):
        self.stats = stats
        self.signals = signals  # tells a JOBDIR crawl (crawlers.frontier) what is committed
        self.store_url = store_url
        self.batch = batch
        self.buffer: list[Post] = []
        self.store: Store | None = None  # open_spider opens it
        self.takedowns: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        return cls(
            s.get("COMPLAINTWATCH_STORE"), s.getint("COMPLAINTWATCH_STORE_BATCH", 200), crawler.stats, crawler.signals
        )

    def open_spider(self, spider=None):
        self.store = open_store(self.store_url)
        self.takedowns = set(self.store.takedowns())
        if self.signals is not None:
            self.signals.send_catch_log(frontier.store_opened)

    def process_item(self, item, spider=None):
        if isinstance(item, Post):
            # a taken-down post can still arrive without its page being fetched (feed entries, listings)
            if any(is_taken_down(u, self.takedowns) for u in (item.url, item.thread_url, item.parent_url)):
                if self.stats is not None:
                    self.stats.inc_value("complaintwatch/taken_down_skipped")
                raise DropItem(f"taken-down URL {item.url}")
            self.buffer.append(item)
            if len(self.buffer) >= self.batch:
                self._flush()
        return item

    def _flush(self) -> None:
        if self.buffer:
            batch, self.buffer = self.buffer, []
            res = self._upsert(batch)
            if self.stats is not None:
                self.stats.inc_value("complaintwatch/new", res.new)
                self.stats.inc_value("complaintwatch/updated", res.updated)
                self.stats.inc_value("complaintwatch/unchanged", res.unchanged)
        if self.signals is not None:
            self.signals.send_catch_log(frontier.store_committed)  # everything handed over so far is stored

    def _upsert(self, batch: list[Post]) -> UpsertResult:
        """One post the store refuses must not cost its whole batch: on failure
        the batch is stored post by post and what still fails is logged and
        skipped. When the store itself is down, raise (nothing counts as stored)."""
        try:
            return self._opened().upsert_posts(batch)
        except Exception as exc:
            log.warning("storing %d posts failed (%s): storing them one by one", len(batch), exc)
        res, failed, last = UpsertResult(), 0, None
        for post in batch:
            try:
                res += self._opened().upsert_posts([post])
            except Exception as exc:
                failed, last = failed + 1, exc
                log.error("post not stored, skipped: %s (%s)", post.url, exc)
        if failed and self.stats is not None:
            self.stats.inc_value("complaintwatch/store_failed", failed)
        if failed == len(batch) and not self._store_answers():
            self.buffer = batch + self.buffer
            raise RuntimeError(f"the store refused all {failed} posts of a batch") from last
        return res

    def _opened(self) -> Store:
        if self.store is None:
            raise RuntimeError("the store pipeline is not open (open_spider was not called)")
        return self.store

    def _store_answers(self) -> bool:
        try:
            self._opened().count_posts()
            return True
        except Exception:
            return False

    def close_spider(self, spider=None):
        self._flush()
        self.store.close()
