"""Title, author and publication date of an article page, from meta tags
(og:, article:, Dublin Core), JSON-LD/microdata, then common platform markup."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parsel import Selector

from crawlers.extraction.dates import page_date, page_year, parse_published
from crawlers.extraction.structured import find_typed, first_str, name_of, structured_items
from crawlers.extraction.text import normalize_ws

_ARTICLE_TYPES = ("Article", "BlogPosting", "NewsArticle", "Report", "SocialMediaPosting", "DiscussionForumPosting")

_TITLE_META = (
    'meta[property="og:title"]::attr(content)',
    'meta[name="twitter:title"]::attr(content)',
    'meta[name="title"]::attr(content)',
)
_AUTHOR_META = (
    'meta[name="author"]::attr(content)',
    'meta[property="article:author"]::attr(content)',
    'meta[name="dc.creator" i]::attr(content)',
)
# A Twitter handle ("@nightly") names an account, not the byline: used only
# when nothing else names the author.
_HANDLE_META = ('meta[name="twitter:creator"]::attr(content)', 'meta[property="twitter:creator"]::attr(content)')
# Platform markup: WordPress themes, Blogger, LiveJournal, hAtom/h-entry.
_AUTHOR_MARKUP = (
    ".entry-meta .author a::text",
    ".byline .author a::text",
    ".byline a[rel=author]::text",
    ".author-info .author-title::text",
    "a[rel=author]::text",
    ".post-author .fn [itemprop=name]::text",
    ".post-author .fn::text",
    "[itemprop=author] [itemprop=name]::text",
    ".p-author .p-name::text",
    'address a[href*="/author/"]::text',  # "By <a href=/author/NAME/>" in an <address> byline
    ".vcard .fn::text",
)
# Comment sections repeat the same hCard markup for every commenter.
_COMMENT_TOKENS = frozenset(
    "comment comments comment-list commentlist comments-list comments-area comment-body comment-author".split()
)
_COMMENT_ID = re.compile(r"^(?:div-)?comments?(?:-\d+)?$")
_DATE_META = (
    'meta[property="article:published_time"]::attr(content)',
    'meta[itemprop="datePublished"]::attr(content)',
    'meta[name="dc.date" i]::attr(content)',
    'meta[name="date"]::attr(content)',
    'meta[name="pubdate"]::attr(content)',
    'meta[property="og:published_time"]::attr(content)',
)
_DATE_MARKUP = (
    "time.published::attr(datetime)",
    "time.entry-date::attr(datetime)",
    "time[itemprop=datePublished]::attr(datetime)",
    "time.dt-published::attr(datetime)",
    "abbr.published::attr(title)",
    "[itemprop=datePublished]::attr(content)",
    "time[pubdate]::attr(datetime)",
)


_YEAR = re.compile(r"(19|20)\d\d")


@dataclass(slots=True)
class PageMeta:
    title: str = ""
    author: str | None = None
    published: datetime | None = None


def _first(sel: Selector, queries: tuple[str, ...]) -> str | None:
    for q in queries:
        for value in sel.css(q).getall():
            value = normalize_ws(value)
            if value:
                return value
    return None


def _in_comments(node: Selector) -> bool:
    for a in node.xpath("ancestor::*[not(self::body or self::html)]"):
        if _COMMENT_TOKENS & set(a.attrib.get("class", "").split()) or _COMMENT_ID.match(a.attrib.get("id", "")):
            return True
    return False


def _byline(sel: Selector) -> str | None:
    """The first author markup (queries on an element's own text) outside the comment section."""
    for q in _AUTHOR_MARKUP:
        for node in sel.css(q.removesuffix("::text")):
            value = normalize_ws("".join(node.xpath("text()").getall()))
            if value and not _in_comments(node):
                return value
    return None


def _by_link(sel: Selector) -> str | None:
    """ "Posted by <a>Name</a>" in the article's header."""
    for node in sel.xpath(
        "//article//header//a[re:test(preceding-sibling::text()[1], '(?i)\\bby\\s*$')]", namespaces=_RE_NS
    ):
        value = normalize_ws("".join(node.xpath(".//text()").getall()))
        if value and not _in_comments(node):
            return value
    return None


_RE_NS = {"re": "http://exslt.org/regular-expressions"}


def _article_ld(items: list[dict[str, Any]]) -> dict[str, Any]:
    found = find_typed(items, *_ARTICLE_TYPES)
    return found[0][0] if found else {}


def _is_url(value: str | None) -> bool:
    return bool(value) and value.startswith(("http://", "https://", "/"))


def page_meta(sel: Selector, url: str, html: str | None = None, languages: list[str] | None = None) -> PageMeta:
    """Best-effort title/author/date; the first source that has a value wins,
    with htmldate guessing the date when nothing explicit is there."""
    html = html if html is not None else sel.get()
    ld = _article_ld(structured_items(html, url))

    title = _first(sel, _TITLE_META) or first_str(ld.get("headline") or ld.get("name"))
    title = title or _first(sel, ("h1.entry-title ::text", "h1 ::text", "title::text")) or ""

    author = _first(sel, _AUTHOR_META)
    if _is_url(author):  # article:author is often a profile URL, not a name
        author = None
    handle = _first(sel, _HANDLE_META)
    if author is None and handle and not handle.startswith("@"):
        author = None if _is_url(handle) else handle
    author = author or name_of(ld.get("author")) or _byline(sel) or _by_link(sel) or handle

    # Machine-readable attributes first; structured data only when it carries a
    # year (Blogger's microdata datePublished is the shown "10:52").
    ld_date = first_str(ld.get("datePublished"))
    candidates = [
        _first(sel, _DATE_META),
        _first(sel, _DATE_MARKUP),
        ld_date if ld_date and _YEAR.search(ld_date) else None,
    ]
    # LiveJournal renders the date as linked text inside <time>, no attribute.
    shown = sel.css("time.published, time.dt-published")
    candidates.append(" ".join("".join(shown[0].css("::text").getall()).split()) if shown else None)
    # The article header's own <time> (Slashcode prints it without a year).
    candidates.append(_first(sel, ("article header time::attr(datetime)", "article header time::text")))
    canonical = sel.css('link[rel="canonical"]::attr(href), meta[property="og:url"]::attr(content)').get()
    year = page_year(html, (url, canonical))  # for a date shown without its year
    published = None
    for raw in candidates:
        published = parse_published(raw, languages=languages, year=year)
        if published:
            break
    if published is None:
        published = page_date(html, url)
    return PageMeta(title=normalize_ws(title), author=author, published=published)
