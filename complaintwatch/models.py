"""The typed records that flow spider -> pipeline -> store -> indexer -> web."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


class SiteKind(StrEnum):
    BLOG = "blog"
    FORUM = "forum"
    REVIEW = "review"
    SOCIAL = "social"


# Query parameters that never change what a page shows; dropping them makes
# the canonical URL stable across crawls so upserts do not duplicate posts.
_TRACKING_PARAMS = re.compile(r"^(utm_.*|fbclid|gclid|yclid|ref|from|_openstat)$", re.I)


def canonical_url(url: str) -> str:
    """Lower-case scheme/host, drop default ports, tracking params and a bare
    trailing slash; keep the fragment only when it addresses a comment/post."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower() or "http"
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAMS.match(k))
    )
    # "/x/" -> "/x"; a root of only slashes ("//") stays "/", so the result is canonical again
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((scheme, host, path, query, parts.fragment))


def site_of(url: str) -> str:
    """The source site: host (with port when not default), without a leading www."""
    netloc = urlsplit(canonical_url(url)).netloc
    return netloc[4:] if netloc.startswith("www.") else netloc


_WS = re.compile(r"\s+")


def content_hash(title: str, text: str) -> str:
    """Hash of the normalised visible content: whitespace and case do not count,
    so a re-crawl of an unchanged page is recognised and the same story on two
    URLs can be grouped."""
    norm = _WS.sub(" ", f"{title}\n{text}").strip().lower()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:32]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(slots=True)
class Post:
    """One post, comment, forum message or review, as stored."""

    url: str
    source_site: str
    site_kind: SiteKind
    title: str
    text: str
    author: str | None = None
    published_at: datetime | None = None  # always timezone-aware when set
    language: str | None = None  # ISO 639-1, e.g. "ru", "en"
    companies: list[str] = field(default_factory=list)  # resolved company ids
    # the company the page itself says the post is about (a review site's
    # reviewed company), as written there; resolved into `companies` by the indexer
    subject: str | None = None
    parent_url: str | None = None  # set for comments/replies: the post they answer
    thread_url: str | None = None  # the page the thread lives on (root post url)
    position: int = 0  # 0 = the thread's opening post, 1.. = replies in order
    is_company_reply: bool = False
    fetched_at: datetime = field(default_factory=utcnow)
    content_hash: str = ""
    incident_id: int | None = None  # set by the indexer
    # "complaint" | "praise" | "question" | "other" (indexer/stance.py), set by
    # the indexer; None: not classified yet (an older database) or a company reply
    stance: str | None = None
    rating: int | None = None  # 1..5 stars, where the site gives them
    id: int | None = None  # assigned by the store

    def __post_init__(self) -> None:
        self.url = canonical_url(self.url)
        if self.parent_url:
            self.parent_url = canonical_url(self.parent_url)
        if self.thread_url:
            self.thread_url = canonical_url(self.thread_url)
        if not isinstance(self.site_kind, SiteKind):
            self.site_kind = SiteKind(self.site_kind)
        if self.published_at is not None and self.published_at.tzinfo is None:
            raise ValueError(f"published_at must be timezone-aware: {self.url}")
        if self.fetched_at.tzinfo is None:
            raise ValueError(f"fetched_at must be timezone-aware: {self.url}")
        if not self.content_hash:
            self.content_hash = content_hash(self.title, self.text)
        if self.rating is not None and not (isinstance(self.rating, int) and 1 <= self.rating <= 5):
            raise ValueError(f"rating must be 1..5 stars: {self.rating!r} ({self.url})")

    @property
    def is_comment(self) -> bool:
        return self.parent_url is not None

    def with_(self, **changes) -> Post:
        if ("title" in changes or "text" in changes) and "content_hash" not in changes:
            changes["content_hash"] = ""  # recomputed in __post_init__
        return replace(self, **changes)


@dataclass(slots=True, init=False)
class SearchHit:
    """A text hit. The snippet is HTML-safe (user text escaped, matches wrapped
    in <mark>); a store may give a function that makes it instead, so a search
    that fetches 100 hits to fuse with vector hits builds snippets only for the
    20 a page shows."""

    post: Post
    score: float
    _snippet: str | None = field(repr=False)
    _make: Callable[[str], str] | None = field(repr=False, compare=False)

    def __init__(
        self, post: Post, score: float, snippet: str | None = None, make_snippet: Callable[[str], str] | None = None
    ):
        if snippet is None and make_snippet is None:
            raise TypeError("SearchHit needs a snippet or make_snippet")
        self.post, self.score, self._snippet, self._make = post, score, snippet, make_snippet

    @property
    def snippet(self) -> str:
        if self._snippet is None:
            assert self._make is not None
            self._snippet = self._make(self.post.text)
        return self._snippet


POST_TYPES = ("complaint", "comment", "company_reply")


@dataclass(slots=True)
class SearchFilters:
    company: str | None = None
    incident_id: int | None = None
    site: str | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_comments: bool = True
    # "complaint" also matches posts not classified yet (stance None), company replies excepted
    stance: str | None = None
    # POST_TYPES: "complaint" (an opening post or review by a customer), "comment" (a reply by a
    # customer) or "company_reply" (the company's own post, never a complaint)
    post_type: str | None = None


@dataclass(slots=True)
class Incident:
    """An incident type: a cluster of posts describing the same kind of failure."""

    id: int
    label_en: str
    label_ru: str
    keywords: list[str] = field(default_factory=list)
    size: int = 0
    taxonomy_key: str | None = None  # set when the cluster matched a seed-taxonomy entry
    # up to 3 post ids that show the type best (closest to the cluster centroid
    # or, for a taxonomy-only type, to the seed type's prototype), best first
    representatives: list[int] = field(default_factory=list)


@dataclass(slots=True)
class SavedSearch:
    """An alert: a saved search (query + filters) or a company x incident type
    watch, evaluated on request (new posts since last_seen_at, spikes)."""

    name: str
    kind: str  # "search" (params: q, company, incident, site, lang, from, to) | "watch" (company, incident)
    params: dict = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    last_seen_at: datetime | None = None  # posts published after this are new; None = created_at
    id: int | None = None  # assigned by the store
