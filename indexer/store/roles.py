"""The store's roles: what a layer may ask of it, one small protocol per job.

- `PostStore`: posts in and out, the change journal, vectors and the fields
  the index run derives (companies, language, stance, incident types).
- `SearchStore`: full-text, vector and faceted search, the newest posts.
- `AnalyticsStore`: the aggregates the pages show (companies, sites,
  languages, a company's complaints, replies and incident types).
- `AppStateStore`: app state (`appstate.AppState`: users, tokens, run state,
  the fitted incident model) plus saved searches (alerts) and the takedown list.

`base.Store` is all four, which every backend implements; a consumer names
only the roles it uses (`indexer/pipeline.py` takes a `PostStore`, the web's
reports an `AnalyticsStore`), so a new page or step states what it needs of a
backend. Defaults written here are the backend-neutral definitions over the
role's own methods; backends may answer faster. Rules that span roles live on
`base.Store`.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol

import numpy as np

from complaintwatch.models import Incident, Post, SavedSearch, SearchFilters, SearchHit

from .appstate import AppState
from .types import (
    FACET_FIELDS,
    CompanyCounts,
    ComplaintReply,
    ComplaintSummary,
    FacetCounts,
    FitRow,
    IncidentStat,
    UpsertResult,
    stored_id,
    summarise_complaints,
)


class PostStore(Protocol):
    """Posts keyed by canonical URL (upserting the same URL again updates the
    row in place and drops its vector if the content changed, so re-crawls
    never duplicate), their vectors and what the index run derives from them."""

    # -- posts --
    @abc.abstractmethod
    def upsert_posts(self, posts: Iterable[Post]) -> UpsertResult: ...

    @abc.abstractmethod
    def get_post(self, post_id: int) -> Post | None: ...

    @abc.abstractmethod
    def get_post_by_url(self, url: str) -> Post | None: ...

    @abc.abstractmethod
    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        """The posts with these ids (unknown ids are left out), in one round trip."""

    @abc.abstractmethod
    def iter_posts(self, batch: int = 500) -> Iterator[Post]: ...

    def iter_fit_rows(self, batch: int = 2000) -> Iterator[FitRow]:
        """Every post as the fields the incident fit reads (types.FitRow), in id
        order; backends read just those fields, without building Posts."""
        for p in self.iter_posts(batch):
            yield FitRow(
                stored_id(p), p.title, p.text, list(p.companies), p.is_company_reply, p.parent_url, p.stance,
                p.incident_id,
            )  # fmt: skip

    @abc.abstractmethod
    def thread(self, thread_url: str) -> list[Post]: ...

    @abc.abstractmethod
    def count_posts(self) -> int: ...

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

    def authors(self) -> set[str]:
        """Every author name stored (web/privacy.py replaces them where posts quote them)."""
        return {p.author for p in self.iter_posts() if p.author}

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

    # -- vectors --
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

    # -- derived fields --
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


class SearchStore(Protocol):
    """Finding posts: by words, by meaning, by filters; and what a search finds per facet."""

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

    @abc.abstractmethod
    def latest_posts(self, filters: SearchFilters | None = None, limit: int = 20, offset: int = 0) -> list[Post]:
        """Posts matching the filters, newest first (undated last), from ``offset``."""

    @abc.abstractmethod
    def count_latest(self, filters: SearchFilters | None = None) -> int:
        """How many posts match the filters: the length of the latest_posts listing."""

    @abc.abstractmethod
    def same_story(self, post: Post) -> list[Post]:
        """The other opening posts stored with this post's content (same
        content_hash: one story posted on several URLs or sites), lowest id
        first, at most MAX_SAME_STORY. Comments are never a story ("+1",
        "спасибо" repeat by chance): [] for a comment, and comments are not
        returned. company_incident_stats counts such a story once."""


class AnalyticsStore(Protocol):
    """The aggregates the pages show: per company, site, language and incident type."""

    @abc.abstractmethod
    def companies(self) -> list[tuple[str, int]]:
        """(company id, post count), most posts first."""

    def company_counts(self) -> list[CompanyCounts]:
        """Complaints, comments and company replies per company (every company
        of ``companies()``), most complaints first (rank_company_counts). The
        backends answer with one aggregation; base.Store has the per-post definition."""
        raise NotImplementedError

    @abc.abstractmethod
    def sites(self) -> list[tuple[str, int]]:
        """(source site, post count), most posts first."""

    @abc.abstractmethod
    def languages(self) -> list[tuple[str, int]]:
        """(language code, post count) of posts with a known language, most first."""

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
        includes posts not classified yet, company replies excepted (base.Store
        has that definition)."""
        raise NotImplementedError

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
    def incident_company_counts(self, incident_id: int) -> list[tuple[str, int]]:
        """(company id, opening posts of this incident type mentioning it), most first;
        a story posted on several URLs (same content_hash) counts once, as in
        company_incident_stats."""

    def set_company_names(self, names: dict[str, str]) -> None:
        """Remember display names by company id (``complaintwatch index`` writes
        its resolver's, user alias files included); added to, never cleared:
        a later run without an alias file keeps the names it gave."""
        raise NotImplementedError

    def company_names(self) -> dict[str, str]:
        """The display names set_company_names stored ({} when none)."""
        return {}


class AppStateStore(AppState, Protocol):
    """App state (documents and blobs: AppState), saved searches (alerts) and the takedown list."""

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

    # -- the takedown list --
    @abc.abstractmethod
    def add_takedowns(self, urls: Iterable[str]) -> int:
        """Put URLs (as takedown_key) on the takedown list and delete what is
        stored for them or for any variant of them (TakedownMatcher): the
        post, the comments and replies of its thread and their vectors, and
        what the incident types took from them (Store.scrub_incidents_after_takedown).
        Returns how many posts were deleted. Crawls refuse listed URLs and
        their variants from then on (crawlers/middlewares.py, crawlers/pipelines.py);
        crawlers/takedown.py drops them from the HTTP cache."""

    @abc.abstractmethod
    def remove_takedown(self, url: str) -> bool:
        """Take a URL off the list (nothing deleted comes back); False when it was not listed."""

    @abc.abstractmethod
    def takedowns(self) -> list[str]:
        """The listed URLs (takedown_key), sorted."""
