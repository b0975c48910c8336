"""Atom 1.0 feeds (RFC 4287), built with ElementTree so every string is escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timezone

from complaintwatch.models import Incident, Post

from .privacy import shown_author
from .safetext import strip_bidi
from .serialize import safe_url

ATOM = "http://www.w3.org/2005/Atom"
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
TITLE_CHARS = 120


def _t(s: str | None) -> str:
    return _XML_INVALID.sub("", s or "")


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    e = ET.SubElement(parent, tag, {k: _t(v) for k, v in attrs.items()})
    if text is not None:
        e.text = _t(text)
    return e


def _stamp(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def text_start(text: str | None, chars: int = TITLE_CHARS) -> str:
    """The first ``chars`` characters of a text on one line, "…" when cut; no bidi controls."""
    flat = " ".join((text or "").split())
    return strip_bidi(flat[:chars] + ("…" if len(flat) > chars else ""))


def post_title(p: Post) -> str:
    title = " ".join((p.title or "").split())
    return strip_bidi(title) or text_start(p.text) or f"Post {p.id}"


def company_feed(
    company: str,
    name: str,
    posts: list[Post],
    *,
    self_url: str,
    html_url: str,
    post_url: Callable[[Post], str],
    incidents: dict[int, Incident],
) -> bytes:
    return posts_feed(
        f"complaintwatch: {name}",
        f"Latest complaints mentioning {name} ({company})",
        posts,
        self_url=self_url,
        html_url=html_url,
        post_url=post_url,
        incidents=incidents,
    )


def posts_feed(
    title: str,
    subtitle: str,
    posts: list[Post],
    *,
    self_url: str,
    html_url: str,
    post_url: Callable[[Post], str],
    incidents: dict[int, Incident],
) -> bytes:
    """An Atom feed of ``posts`` (in the order given)."""
    # plain tag names under an explicit default namespace declaration
    feed = ET.Element("feed", {"xmlns": ATOM})
    _el(feed, "id", self_url)
    _el(feed, "title", title)
    _el(feed, "subtitle", subtitle)
    stamps = [p.published_at or p.fetched_at for p in posts]
    _el(feed, "updated", _stamp(max(stamps) if stamps else datetime.now(timezone.utc)))
    _el(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _el(feed, "link", rel="alternate", type="text/html", href=html_url)
    author = _el(feed, "author")
    _el(author, "name", "complaintwatch")
    _el(feed, "generator", "complaintwatch")
    for p, stamp in zip(posts, stamps):
        entry = _el(feed, "entry")
        url = post_url(p)
        _el(entry, "id", url)
        _el(entry, "title", post_title(p), type="text")
        _el(entry, "updated", _stamp(stamp))
        if p.published_at:
            _el(entry, "published", _stamp(p.published_at))
        a = _el(entry, "author")
        _el(a, "name", strip_bidi(shown_author(p.author)) or "unknown")
        _el(entry, "link", rel="alternate", type="text/html", href=url)
        source = safe_url(p.url)
        if source:
            _el(entry, "link", rel="related", href=source)
        inc = incidents.get(p.incident_id) if p.incident_id is not None else None
        if inc:
            _el(entry, "category", term=str(inc.id), label=inc.label_en)
        _el(entry, "content", p.text, type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
