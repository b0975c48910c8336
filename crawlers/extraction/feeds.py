"""RSS 2.0 / RSS 1.0 (RDF) / Atom feeds as plain entries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from parsel import Selector, SelectorList

_ROOT = re.compile(rb"<([A-Za-z_][\w:.-]*)")
_PROLOG = re.compile(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", re.S | re.I)
FEED_ROOTS = frozenset({"rss", "feed", "rdf:RDF", "RDF"})
SITEMAP_ROOTS = frozenset({"urlset", "sitemapindex"})


def xml_root(body: bytes) -> str | None:
    """Name of the document's root element (without namespace prefix handling
    beyond rdf:RDF), or None for HTML and non-markup bodies."""
    head = _PROLOG.sub(b"", body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n"))
    m = _ROOT.match(head.lstrip())
    if not m:
        return None
    name = m[1].decode("ascii", "replace")
    return None if name.lower() in ("html", "head", "body") else name


@dataclass(slots=True)
class FeedEntry:
    link: str
    title: str = ""
    author: str | None = None
    published: str | None = None  # raw, as in the feed
    content_html: str = ""  # full body (Atom content, RSS content:encoded)
    summary_html: str = ""  # teaser (Atom summary, RSS description)
    language: str | None = None
    comments_feed: str | None = None


@dataclass(slots=True)
class Feed:
    title: str = ""
    site: str = ""  # the site the feed belongs to
    language: str | None = None
    entries: list[FeedEntry] = field(default_factory=list)


def _text(sel: Selector | SelectorList[Selector], xpath: str) -> str:
    return " ".join(" ".join(sel.xpath(xpath).getall()).split())


def _inner(sel: Selector, xpath: str) -> str:
    """Element content as HTML: escaped/CDATA HTML comes back as text, inline
    XHTML (<content type="xhtml">) as serialised children."""
    nodes = sel.xpath(xpath)
    if not nodes:
        return ""
    node = nodes[0]
    if node.attrib.get("type") == "xhtml":
        return "".join(node.xpath("./*/node()").getall())
    return "".join(node.xpath("./text()").getall()).strip()


def _atom_link(entry: Selector, site_host: str, base: str) -> str:
    links = [
        (ln.attrib.get("rel", "alternate"), urljoin(base, ln.attrib.get("href", ""))) for ln in entry.xpath("link")
    ]
    links = [(rel, href) for rel, href in links if href]
    # Link blogs (Daring Fireball) point "alternate" at the story they link to
    # and "related" at their own post: prefer whichever lives on the site.
    for wanted in ("alternate", "related"):
        for rel, href in links:
            if rel == wanted and urlsplit(href).hostname == site_host:
                return href
    for rel, href in links:
        if rel == "alternate":
            return href
    return links[0][1] if links else ""


def parse_feed(text: str, url: str) -> Feed | None:
    """Entries of an RSS/Atom document; None when it is not a feed."""
    sel = Selector(text=text, type="xml")
    sel.remove_namespaces()
    root = sel.xpath("/*")
    if not root:
        return None
    name = root[0].xpath("name()").get()
    if name == "feed":
        site = root.xpath('link[@rel="alternate" or not(@rel)]/@href').get() or url
        feed = Feed(
            title=_text(root, "title/text()"),
            site=urljoin(url, site),
            language=root.xpath("@lang").get(),
        )
        host = urlsplit(feed.site).hostname or ""
        for e in root.xpath("entry"):
            feed.entries.append(
                FeedEntry(
                    link=_atom_link(e, host, url),
                    title=_text(e, "title//text()"),
                    author=_text(e, "author/name/text()") or _text(root, "author/name/text()") or None,
                    published=_text(e, "published/text()") or _text(e, "updated/text()") or None,
                    content_html=_inner(e, "content"),
                    summary_html=_inner(e, "summary"),
                    language=e.xpath("content/@lang | @lang").get() or feed.language,
                )
            )
        return feed
    if name in ("rss", "RDF"):
        channel = root.xpath("channel")
        feed = Feed(
            title=_text(channel, "title/text()"),
            site=urljoin(url, _text(channel, "link/text()")),
            language=_text(channel, "language/text()") or None,
        )
        for item in root.xpath("channel/item | item"):
            link = _text(item, "link/text()") or item.xpath('guid[not(@isPermaLink="false")]/text()').get() or ""
            feed.entries.append(
                FeedEntry(
                    link=urljoin(url, link.strip()),
                    title=_text(item, "title/text()"),
                    author=_text(item, "creator/text()") or _text(item, "author/text()") or None,
                    published=_text(item, "pubDate/text()") or _text(item, "date/text()") or None,
                    content_html=_inner(item, "encoded"),
                    summary_html=_inner(item, "description"),
                    language=feed.language,
                    comments_feed=_text(item, "commentRss/text()") or None,
                )
            )
        return feed
    return None
