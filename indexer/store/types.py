"""The records stores hand out (counts, aggregates, facets) and the
backend-neutral rules over them, shared by the roles (roles.py) and every
backend: a definition written once, not once per backend."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple, TypeVar

from complaintwatch.models import Post, SearchFilters

MAX_SAME_STORY = 50  # copies same_story() returns at most
Key = TypeVar("Key", int, str)  # how a backend names a post: a row id, a document _id


@dataclass(slots=True)
class UpsertResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


class FitRow(NamedTuple):
    """What fitting the incident types reads of a post (PostStore.iter_fit_rows):
    the stored fields as they are, no Post built and no URL canonicalised again
    (stored URLs are canonical already); most of a 100k re-fit's reading went there."""

    id: int
    title: str
    text: str
    companies: list[str]
    is_company_reply: bool
    parent_url: str | None
    stance: str | None
    incident_id: int | None


@dataclass(slots=True)
class IncidentStat:
    company: str
    incident_id: int
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    monthly: dict[str, int] = field(default_factory=dict)  # "YYYY-MM" -> count


@dataclass(slots=True)
class CompanyCounts:
    """What is stored about one company, counted apart: complaints (opening
    posts and reviews by customers: no parent_url, not a company reply),
    comments (replies by customers) and the company's own replies, which are
    never complaints."""

    company: str
    complaints: int = 0
    comments: int = 0
    company_replies: int = 0

    @property
    def posts(self) -> int:
        return self.complaints + self.comments + self.company_replies

    def add(self, post: Post) -> None:
        if post.is_company_reply:
            self.company_replies += 1
        elif post.parent_url is None:
            self.complaints += 1
        else:
            self.comments += 1


@dataclass(slots=True)
class ComplaintReply:
    """One of a company's complaints (an opening post or review by a customer,
    stance "complaint" or not classified yet) and the company's answer in its
    thread: ``replied`` when any company reply is in the thread (the posts
    whose url or thread_url is the complaint's thread_url, or url), and the
    earliest such reply's date (None when no reply carries one)."""

    post_id: int
    url: str
    title: str
    published_at: datetime | None
    content_hash: str
    incident_id: int | None
    replied: bool = False
    first_reply_at: datetime | None = None


@dataclass(slots=True)
class ComplaintSummary:
    """A company's complaints (those of AnalyticsStore.company_complaint_replies) summed up for its
    page: how many, how many got a company reply in their thread, the median hours from a
    complaint to the first reply, the newest unanswered ones (newest first, undated last),
    the stories (a story posted on several URLs once) and complaints per month ("YYYY-MM":
    a story once, in the month it was first seen)."""

    complaints: int = 0
    answered: int = 0
    median_response_hours: float | None = None
    unanswered: list[ComplaintReply] = field(default_factory=list)
    unanswered_total: int = 0
    stories: int = 0
    monthly: dict[str, int] = field(default_factory=dict)


def summarise_complaints(complaints: list[ComplaintReply], unanswered: int) -> ComplaintSummary:
    """The definition of AnalyticsStore.company_complaint_summary, over every complaint."""
    hours = [
        max(0.0, (c.first_reply_at - c.published_at).total_seconds() / 3600)
        for c in complaints
        if c.replied and c.first_reply_at is not None and c.published_at is not None
    ]
    open_ = sorted(
        (c for c in complaints if not c.replied),
        key=lambda c: (
            c.published_at is not None,
            c.published_at or datetime.min.replace(tzinfo=timezone.utc),
            c.post_id,
        ),
        reverse=True,
    )
    first: dict[str, datetime] = {}
    for c in complaints:
        if c.published_at is not None and (c.content_hash not in first or c.published_at < first[c.content_hash]):
            first[c.content_hash] = c.published_at
    monthly: dict[str, int] = {}
    for when in first.values():
        monthly[when.strftime("%Y-%m")] = monthly.get(when.strftime("%Y-%m"), 0) + 1
    return ComplaintSummary(
        len(complaints),
        sum(1 for c in complaints if c.replied),
        round(statistics.median(hours), 1) if hours else None,
        open_[: max(0, unanswered)],
        len(open_),
        len({c.content_hash for c in complaints}),
        dict(sorted(monthly.items())),
    )


# Facets of a search (SearchStore.facet_counts), by the query-string name of their filter, and the
# SearchFilters field each one filters on
FACET_FIELDS = ("company", "site", "lang", "incident", "type", "stance")
_FACET_FILTER = {
    "company": "company",
    "site": "site",
    "lang": "language",
    "incident": "incident_id",
    "type": "post_type",
    "stance": "stance",
}
FacetValue = str | int


@dataclass(slots=True)
class FacetCount:
    """One value of a facet and the posts the search finds with it, complaints (opening posts
    and reviews by customers), comments and the company's own replies apart."""

    value: FacetValue
    complaints: int = 0
    comments: int = 0
    company_replies: int = 0

    @property
    def count(self) -> int:
        return self.complaints + self.comments + self.company_replies


FacetCounts = dict[str, list[FacetCount]]


def facet_filters(filters: SearchFilters | None, facet: str) -> SearchFilters:
    """The filters a facet is counted under: every one but its own (standard faceted search:
    the site drop-down shows what each site would give with the other filters kept)."""
    if facet not in _FACET_FILTER:
        raise ValueError(f"unknown facet {facet!r}; facets: {', '.join(FACET_FIELDS)}")
    cleared: dict[str, Any] = {_FACET_FILTER[facet]: None}  # Any: fields of several types are cleared
    return dataclasses.replace(filters or SearchFilters(), **cleared)


def facet_from_parts(
    complaints: Iterable[tuple[FacetValue, int]],
    comments: Iterable[tuple[FacetValue, int]],
    company_replies: Iterable[tuple[FacetValue, int]],
) -> list[FacetCount]:
    """FacetCounts from (value, posts) of each post type: the values with posts, most first,
    then by value."""
    by: dict[FacetValue, FacetCount] = {}
    for name, pairs in (("complaints", complaints), ("comments", comments), ("company_replies", company_replies)):
        for v, n in pairs:
            if n:
                c = by.setdefault(v, FacetCount(v))
                setattr(c, name, getattr(c, name) + int(n))
    return sorted(by.values(), key=lambda c: (-c.count, str(c.value)))


def stored_id(post: Post) -> int:
    """The id of a post read from a store (which always sets it)."""
    if post.id is None:
        raise ValueError(f"post {post.url} has no id: it was not read from a store")
    return post.id


def rank_company_counts(counts: Iterable[CompanyCounts]) -> list[CompanyCounts]:
    """Most complaints first, then most posts, then by id."""
    return sorted(counts, key=lambda c: (-c.complaints, -c.posts, c.company))


def whole_threads(
    seeds: Iterable[tuple[Key, str]], under: Callable[[list[str]], Iterable[tuple[Key, str]]], chunk: int
) -> list[Key]:
    """The keys of a takedown's posts, sorted: the posts at the listed URLs (``seeds``: their
    (key, url)) and everything in their threads or answering them, replies of replies included.
    ``under(urls)``: (key, url) of the posts at, in the thread of, or answering one of the urls
    (at most ``chunk`` of them), the backend's one look-up; repeated until nothing new turns up."""
    found: set[Key] = set()

    def unseen(pairs: Iterable[tuple[Key, str]]) -> list[str]:
        urls = []
        for key, url in pairs:
            if key not in found:
                found.add(key)
                urls.append(url)
        return urls

    frontier = unseen(seeds)
    while frontier:
        frontier = [url for i in range(0, len(frontier), chunk) for url in unseen(under(frontier[i : i + chunk]))]
    return sorted(found)
