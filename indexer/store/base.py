"""The store interface every backend implements, and URL-based selection."""

from __future__ import annotations

import abc
import dataclasses
import logging
import re
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from complaintwatch.models import Incident, Post, SavedSearch, SearchFilters, SearchHit, canonical_url

from .appstate import AppState

log = logging.getLogger(__name__)


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
    """A company's complaints (those of Store.company_complaint_replies) summed up for its
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
    """The definition of Store.company_complaint_summary, over every complaint."""
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


# Facets of a search (Store.facet_counts), by the query-string name of their filter, and the
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


class Store(AppState, abc.ABC):
    """Posts, their vectors, companies and incident assignments; and the
    app-state role (AppState), which each backend mixes in (appstate_sqlite,
    appstate_es).

    Posts are keyed by canonical URL: upserting the same URL again updates the
    row in place (and drops its vector if the content changed) so re-crawls
    never duplicate."""

    # -- posts --
    @abc.abstractmethod
    def upsert_posts(self, posts: Iterable[Post]) -> UpsertResult: ...

    @abc.abstractmethod
    def get_post(self, post_id: int) -> Post | None: ...

    @abc.abstractmethod
    def get_post_by_url(self, url: str) -> Post | None: ...

    @abc.abstractmethod
    def iter_posts(self, batch: int = 500) -> Iterator[Post]: ...

    @abc.abstractmethod
    def thread(self, thread_url: str) -> list[Post]: ...

    @abc.abstractmethod
    def count_posts(self) -> int: ...

    # -- the change journal: what the index run still has to do --
    # Every insert or real change (new content_hash) of a post hands it the
    # next change sequence number and clears its "analysed" and "typed" marks;
    # the index run sets them again (set_analysis, replace_incidents,
    # assign_incidents), so it only works on what changed. ``upto``: the
    # change_seq() the run started from; posts changed after it (a crawl running
    # meanwhile) are left for the next run.
    @abc.abstractmethod
    def change_seq(self) -> int:
        """The last change sequence number handed out (0: none yet)."""

    @abc.abstractmethod
    def posts_to_analyse(
        self, everything: bool = False, batch: int = 500, upto: int | None = None
    ) -> Iterator[list[Post]]:
        """Pages of posts not analysed since they last changed (``everything``:
        all posts), in id order."""

    @abc.abstractmethod
    def posts_to_type(self, model: str, batch: int = 500, upto: int | None = None) -> Iterator[list[Post]]:
        """Pages of posts with a vector of ``model`` not given an incident type
        since they last changed, in id order."""

    def get_posts_by_url(self, urls: Iterable[str]) -> dict[str, Post]:
        """The posts at these URLs, by canonical URL (unknown ones left out)."""
        out = {}
        for u in urls:
            if (p := self.get_post_by_url(u)) is not None:
                out[u] = p
        return out

    def thread_posts(self, thread_urls: Iterable[str]) -> list[Post]:
        """Every post of these threads: the opening posts (their url), the posts
        whose thread_url is one of them, and those without a thread_url whose
        parent_url is one of them."""
        out: dict[int, Post] = {}
        for u in thread_urls:
            for p in self.thread(u):
                out[stored_id(p)] = p
        return list(out.values())

    # -- indexer outputs --
    @abc.abstractmethod
    def posts_without_vector(self, model: str, batch: int = 256) -> Iterator[list[Post]]: ...

    @abc.abstractmethod
    def set_vectors(self, model: str, items: list[tuple[int, np.ndarray]]) -> None: ...

    @abc.abstractmethod
    def vectors(self, model: str, ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(post ids, float32 matrix of unit vectors) for every embedded post,
        read in bulk, in id order; with ``ids``: for those of them that have a
        vector, in the order given."""

    @abc.abstractmethod
    def count_vectors(self, model: str) -> int:
        """How many posts have a vector of ``model`` (counted, not loaded)."""

    @abc.abstractmethod
    def set_analysis(self, items: list[tuple[int, list[str], str | None]], upto: int | None = None) -> None:
        """Per post id: resolved company ids and detected language; marks the
        posts analysed (posts changed after ``upto`` are left untouched)."""

    @abc.abstractmethod
    def posts_without_stance(self, batch: int = 500) -> Iterator[list[Post]]:
        """Posts whose stance is not set yet (new, changed, or from an older
        database), company replies excepted (they keep None), in id order."""

    @abc.abstractmethod
    def set_stance(self, items: Iterable[tuple[int, str | None]]) -> None:
        """Per post id: its stance (indexer/stance.py STANCES)."""

    @abc.abstractmethod
    def stance_counts(self) -> dict[str | None, int]:
        """{stance: posts} over every post but company replies (None: not classified yet)."""

    @abc.abstractmethod
    def replace_incidents(
        self, incidents: list[Incident], assignment: dict[int, int | None], upto: int | None = None
    ) -> None:
        """Store the incident types (only these) and each post's incident id
        (None = outlier; posts left out of ``assignment`` get None); the posts
        in ``assignment`` are marked typed. Only posts whose incident id changes
        or that were not marked are written; posts changed after ``upto`` are
        left untouched."""

    @abc.abstractmethod
    def assign_incidents(
        self, incidents: list[Incident], assignment: dict[int, int | None], upto: int | None = None
    ) -> None:
        """The incremental counterpart of replace_incidents: insert or replace
        these incident types (one of size 0 is deleted; the others stay) and
        set the incident id of just the posts in ``assignment``, marking them
        typed; every other post is untouched."""

    @abc.abstractmethod
    def incidents(self) -> list[Incident]: ...

    # -- queries --
    @abc.abstractmethod
    def search_text(
        self, query: str, filters: SearchFilters | None = None, limit: int = 20, offset: int = 0
    ) -> tuple[list[SearchHit], int]:
        """BM25 hits for a user query (any syntax is safe) and the total count."""

    @abc.abstractmethod
    def search_vector(
        self,
        model: str,
        vector: np.ndarray,
        filters: SearchFilters | None = None,
        limit: int = 20,
        query: str = "",
        exact: bool = False,
    ) -> list[tuple[int, float]]:
        """(post id, cosine similarity), nearest first, under ``filters``; with a
        user ``query``, only posts that satisfy its constraints (quoted phrases
        and +words present, -words absent: ParsedQuery.has_constraints).
        Approximate where the store has an ANN index; ``exact``: brute force."""

    @abc.abstractmethod
    def facet_counts(
        self,
        query: str,
        filters: SearchFilters | None = None,
        fields: Sequence[str] = FACET_FIELDS,
        also: Mapping[str, Iterable[int]] | None = None,
    ) -> FacetCounts:
        """Per facet (FACET_FIELDS): (value, posts) over what a search finds, most first. A
        facet counts the text matches of ``query`` (empty: every post) under every filter but
        its own (facet_filters), plus the posts ``also[facet]`` names (the similar-in-meaning
        hits under those filters), each post once. company: every company a post names;
        stance "complaint" includes posts not classified yet (never company replies); type:
        complaint, comment, company_reply (POST_TYPES). Posts without a value (no language,
        no incident type) count under no value of that facet."""

    def complaint_incident_counts(self, companies: Iterable[str]) -> tuple[int, dict[int, int]]:
        """(complaints, {incident type: complaints of it}) over the complaints mentioning any of
        ``companies``: opening posts and reviews by customers of stance complaint or not
        classified yet, a story posted on several URLs (same content_hash) once, as the
        company page counts one company's (an industry's figures, web/reports.py)."""
        stories: dict[str, set[int]] = {}
        for c in dict.fromkeys(companies):
            for r in self.company_complaint_replies(c):
                kinds = stories.setdefault(r.content_hash, set())
                if r.incident_id is not None:
                    kinds.add(r.incident_id)
        per: dict[int, int] = {}
        for kinds in stories.values():
            for iid in kinds:
                per[iid] = per.get(iid, 0) + 1
        return len(stories), per

    @abc.abstractmethod
    def companies(self) -> list[tuple[str, int]]:
        """(company id, post count), most posts first."""

    @abc.abstractmethod
    def company_incident_stats(self, company: str) -> list[IncidentStat]:
        """The company's recurring failures: per incident type, its opening
        posts that are complaints (stance "complaint", or None from before
        stances were classified); praise and questions never count."""

    @abc.abstractmethod
    def company_complaint_months(self, company: str) -> dict[str, int]:
        """The company's complaints per month ("YYYY-MM" -> stories), opening
        posts only, typed or not: the volume its incident types' trends are
        measured against (indexer.clustering.recurring_from_counts)."""

    @abc.abstractmethod
    def latest_posts(self, filters: SearchFilters | None = None, limit: int = 20, offset: int = 0) -> list[Post]:
        """Posts matching the filters, newest first (undated last), from ``offset``."""

    @abc.abstractmethod
    def check(self) -> list[str]:
        """Integrity problems found (empty list = healthy)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- batch reads and aggregates for the web --
    @abc.abstractmethod
    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        """The posts with these ids (unknown ids are left out), in one round trip."""

    @abc.abstractmethod
    def count_latest(self, filters: SearchFilters | None = None) -> int:
        """How many posts match the filters: the length of the latest_posts listing."""

    @abc.abstractmethod
    def company_reply_stats(self, company: str) -> tuple[int, int]:
        """(threads with comments, threads the company replied in) over the
        company's opening posts: a thread is the posts whose url or thread_url
        is the opening post's thread_url (or url); it has comments when it has
        a post besides the opening one; replied when any of its posts is a
        company reply."""

    def company_complaint_replies(self, company: str) -> list[ComplaintReply]:
        """The company's complaints (ComplaintReply), each with whether and when
        the company first replied in its thread; in no particular order."""
        raise NotImplementedError

    def company_reply_months(self, company: str) -> dict[str, int]:
        """{"YYYY-MM": the company's own replies (is_company_reply, mentioning
        it) published that month}; replies without a date are left out."""
        raise NotImplementedError

    def company_complaint_summary(self, company: str, unanswered: int = 10) -> ComplaintSummary:
        """The company's complaints summed up (ComplaintSummary), at most ``unanswered``
        unanswered ones listed. This is the definition; the backends answer without
        reading every complaint."""
        return summarise_complaints(self.company_complaint_replies(company), unanswered)

    def company_stance_counts(self, company: str) -> dict[str, int]:
        """{stance: the company's posts of it} for every stance of indexer/stance.py,
        as count_latest counts SearchFilters(company=..., stance=...): "complaint"
        includes posts not classified yet, company replies excepted."""
        from ..stance import STANCES

        return {st: self.count_latest(SearchFilters(company=company, stance=st)) for st in STANCES}

    @abc.abstractmethod
    def incident_company_counts(self, incident_id: int) -> list[tuple[str, int]]:
        """(company id, opening posts of this incident type mentioning it), most first;
        a story posted on several URLs (same content_hash) counts once, as in
        company_incident_stats."""

    @abc.abstractmethod
    def sites(self) -> list[tuple[str, int]]:
        """(source site, post count), most posts first."""

    @abc.abstractmethod
    def languages(self) -> list[tuple[str, int]]:
        """(language code, post count) of posts with a known language, most first."""

    # -- saved searches (alerts) --
    @abc.abstractmethod
    def add_saved_search(self, saved: SavedSearch) -> SavedSearch:
        """Store a new saved search; sets and returns it with its id (and
        last_seen_at = created_at when unset)."""

    @abc.abstractmethod
    def saved_searches(self) -> list[SavedSearch]:
        """Every saved search, oldest first."""

    @abc.abstractmethod
    def get_saved_search(self, saved_id: int) -> SavedSearch | None: ...

    @abc.abstractmethod
    def mark_saved_search_seen(self, saved_id: int, when: datetime) -> bool:
        """Set last_seen_at; False when there is no such saved search."""

    @abc.abstractmethod
    def delete_saved_search(self, saved_id: int) -> bool:
        """False when there was no such saved search."""

    # -- one story on several URLs; the takedown list --
    @abc.abstractmethod
    def same_story(self, post: Post) -> list[Post]:
        """The other opening posts stored with this post's content (same
        content_hash: one story posted on several URLs or sites), lowest id
        first, at most MAX_SAME_STORY. Comments are never a story ("+1",
        "спасибо" repeat by chance): [] for a comment, and comments are not
        returned. company_incident_stats counts such a story once."""

    @abc.abstractmethod
    def add_takedowns(self, urls: Iterable[str]) -> int:
        """Put URLs (as takedown_key) on the takedown list and delete what is
        stored for them or for any variant of them (TakedownMatcher): the
        post, the comments and replies of its thread and their vectors, and
        what the incident types took from them (scrub_incidents_after_takedown).
        Returns how many posts were deleted. Crawls refuse listed URLs and
        their variants from then on (crawlers/middlewares.py, crawlers/pipelines.py);
        crawlers/takedown.py drops them from the HTTP cache."""

    @abc.abstractmethod
    def remove_takedown(self, url: str) -> bool:
        """Take a URL off the list (nothing deleted comes back); False when it was not listed."""

    @abc.abstractmethod
    def takedowns(self) -> list[str]:
        """The listed URLs (takedown_key), sorted."""

    def company_counts(self) -> list[CompanyCounts]:
        """Complaints, comments and company replies per company (every company
        of ``companies()``), most complaints first (rank_company_counts). The
        backends answer with one aggregation; this is the per-post definition."""
        counts: dict[str, CompanyCounts] = {}
        for p in self.iter_posts():
            for c in dict.fromkeys(p.companies):
                counts.setdefault(c, CompanyCounts(c)).add(p)
        return rank_company_counts(counts.values())

    def set_company_names(self, names: dict[str, str]) -> None:
        """Remember display names by company id (``complaintwatch index`` writes
        its resolver's, user alias files included); added to, never cleared:
        a later run without an alias file keeps the names it gave."""
        raise NotImplementedError

    def company_names(self) -> dict[str, str]:
        """The display names set_company_names stored ({} when none)."""
        return {}

    def authors(self) -> set[str]:
        """Every author name stored (web/privacy.py replaces them where posts quote them)."""
        return {p.author for p in self.iter_posts() if p.author}

    # -- what a takedown leaves behind in derived data --
    def _write_incidents(self, incidents: list[Incident], drop: list[int]) -> None:
        """Rewrite these incident types in place (labels, keywords, size,
        representatives) and delete the ``drop`` ones; assignments untouched."""
        raise NotImplementedError

    def scrub_incidents_after_takedown(self, removed: list[Post]) -> int:
        """After ``removed`` were deleted: every incident type they were a
        member or a representative of, or whose keywords they share, gets its
        size, representatives and keywords recomputed without them. A keyword
        taken from their text stays only while at least two remaining members
        (one, for a type of one post) still use it, as ctfidf_keywords requires
        when it picks keywords; a label made of such a word is rebuilt. A type
        left without posts is deleted. Returns how many types changed."""
        if not removed:
            return 0
        from ..clustering.represent import _CYRILLIC, _LATIN, _term, _terms, keyword_label

        removed_ids = {p.id for p in removed}
        members_gone = {p.incident_id for p in removed if p.incident_id is not None}
        tainted: set[str] = set()
        for p in removed:
            tainted.update(_terms(f"{p.title}. {p.text}" if p.title else p.text))
        changed: list[Incident] = []
        drop: list[int] = []
        for inc in self.incidents():
            bad = [w for w in inc.keywords if (t := _term(w)) is not None and t[0] in tainted]
            if not (inc.id in members_gone or set(inc.representatives) & removed_ids or bad):
                continue
            size = self.count_latest(SearchFilters(incident_id=inc.id))
            if size == 0 and inc.id in members_gone:
                drop.append(inc.id)
                continue
            still = {w: self.search_text(f'"{w}"', SearchFilters(incident_id=inc.id), limit=1)[1] for w in bad}
            dropped = [w for w in bad if still[w] < min(2, size)]
            inc.keywords = [w for w in inc.keywords if w not in dropped]
            for w in dropped:  # a taxonomy label told apart by a keyword: "Refund refused (word)"
                inc.label_en = inc.label_en.replace(f" ({w})", "")
                inc.label_ru = inc.label_ru.replace(f" ({w})", "")
            if any(w in f"{inc.label_en} {inc.label_ru}".lower() for w in dropped):
                inc.label_en = keyword_label(inc.keywords, _LATIN) or "Unlabelled incident type"
                inc.label_ru = keyword_label(inc.keywords, _CYRILLIC) or "Тип инцидента без названия"
            want = max(len(inc.representatives), 1)
            reps = [r for r in inc.representatives if r not in removed_ids]
            if len(reps) < want:  # topped up with remaining opening posts; the next `index` picks by centroid
                extra = self.latest_posts(SearchFilters(incident_id=inc.id, include_comments=False), limit=want * 2)
                reps += [stored_id(p) for p in extra if p.id not in reps][: want - len(reps)]
            inc.representatives, inc.size = reps, size
            changed.append(inc)
        if changed or drop:
            self._write_incidents(changed, drop)
            log.info("takedown: %d incident types recomputed, %d deleted", len(changed), len(drop))
        return len(changed) + len(drop)


MAX_SAME_STORY = 50  # copies same_story() returns at most

# Query parameters that change how a page is shown, not which post it is:
# sorting, printing, highlighting, session ids, pagination of one thread.
_PRESENTATION_PARAMS = re.compile(
    r"^(sort|sort_?by|sort_?order|order|order_?by|dir|direction|view|print|printable|highlight|hl|amp|"
    r"replytocom|share|mobile|tab|theme|sid|phpsessid|sessionid|jsessionid|s_id|page|start|cpage|offset|"
    r"comments?_page|limit|per_?page|st|postdays|postorder|showall|nocache|_)$",
    re.I,
)
# the directory's default document: "/a/index.html" is "/a"
_INDEX_FILE = re.compile(r"/(index|default)\.(html?|shtml|php\d?|aspx?|jsp)$", re.I)
_DIGIT = re.compile(r"\d")


def takedown_key(url: str) -> str:
    """How a URL sits on the takedown list: canonical (canonical_url), without
    query parameters that only change the presentation (``?sort=1``,
    ``&page=2`` of the same thread), a trailing ``index.html`` and a fragment
    that addresses no post or comment (``#comments``; ``#c9``/``#comment-5``
    stay: they have a number)."""
    parts = urlsplit(canonical_url(url))
    path = _INDEX_FILE.sub("", parts.path).rstrip("/") or "/"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _PRESENTATION_PARAMS.match(k)]
    )
    fragment = parts.fragment if _DIGIT.search(parts.fragment) else ""
    return urlunsplit((parts.scheme, parts.netloc, path, query, fragment))


def _bare_host(netloc: str) -> str:
    return netloc[4:] if netloc.startswith("www.") else netloc


def takedown_match_key(url: str) -> str:
    """takedown_key without what never tells two posts apart: http/https and a leading www."""
    parts = urlsplit(takedown_key(url))
    return urlunsplit(("", _bare_host(parts.netloc), parts.path, parts.query, parts.fragment))


class TakedownMatcher:
    """Does a URL (of a post, its thread or its parent) fall under the list?
    A listed URL covers every variant of itself (takedown_match_key) and,
    without a fragment, everything on its page (``#c1``, ``?page=2#p5``)."""

    def __init__(self, listed: Iterable[str]):
        self.keys = {takedown_match_key(u) for u in listed if u and u.strip()}
        self.hosts = {urlsplit(k).netloc for k in self.keys}

    def __bool__(self) -> bool:
        return bool(self.keys)

    def __call__(self, url: str | None) -> bool:
        if not url or not self.keys or not any(h in url.lower() for h in self.hosts):
            return False
        key = takedown_match_key(url)
        return key in self.keys or key.split("#", 1)[0] in self.keys

    def any(self, *urls: str | None) -> bool:
        return any(self(u) for u in urls)


def is_taken_down(url: str | None, listed: set[str] | frozenset[str]) -> bool:
    """True when ``url``, any variant of it, or the page it is on (without
    #fragment), is listed; ``listed``: Store.takedowns() (takedown_key form)."""
    if not url or not listed:
        return False
    parts = urlsplit(takedown_key(url))
    host = _bare_host(parts.netloc)
    for scheme in ("https", "http"):
        for netloc in (host, "www." + host):
            key = urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))
            if key in listed or key.split("#", 1)[0] in listed:
                return True
    return False
