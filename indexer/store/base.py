"""The store interface every backend implements, and URL-based selection."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from complaintwatch.models import Incident, Post, SavedSearch, SearchFilters, SearchHit, canonical_url


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


class Store(abc.ABC):
    """Posts, their vectors, companies and incident assignments.

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

    # -- indexer outputs --
    @abc.abstractmethod
    def posts_without_vector(self, model: str, batch: int = 256) -> Iterator[list[Post]]: ...

    @abc.abstractmethod
    def set_vectors(self, model: str, items: list[tuple[int, np.ndarray]]) -> None: ...

    @abc.abstractmethod
    def vectors(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        """(post ids, float32 matrix of unit vectors) for every embedded post."""

    @abc.abstractmethod
    def set_analysis(self, items: list[tuple[int, list[str], str | None]]) -> None:
        """Per post id: resolved company ids and detected language."""

    @abc.abstractmethod
    def replace_incidents(self, incidents: list[Incident], assignment: dict[int, int | None]) -> None:
        """Store the incident types and each post's incident id (None = outlier)."""

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
        self, model: str, vector: np.ndarray, filters: SearchFilters | None = None, limit: int = 20
    ) -> list[tuple[int, float]]: ...

    @abc.abstractmethod
    def companies(self) -> list[tuple[str, int]]:
        """(company id, post count), most posts first."""

    @abc.abstractmethod
    def company_incident_stats(self, company: str) -> list[IncidentStat]: ...

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
        """Put URLs (canonicalised) on the takedown list and delete what is
        stored for them: the post, the comments and replies of its thread and
        their vectors. Returns how many posts were deleted. Crawls refuse
        listed URLs from then on (crawlers/takedown.py)."""

    @abc.abstractmethod
    def remove_takedown(self, url: str) -> bool:
        """Take a URL off the list (nothing deleted comes back); False when it was not listed."""

    @abc.abstractmethod
    def takedowns(self) -> list[str]:
        """The listed canonical URLs, sorted."""


MAX_SAME_STORY = 50  # copies same_story() returns at most


def takedown_key(url: str) -> str:
    """How a URL sits on the takedown list: canonical (canonical_url)."""
    return canonical_url(url)


def is_taken_down(url: str | None, listed: set[str] | frozenset[str]) -> bool:
    """True when ``url``, or the page it is on (without #fragment), is listed."""
    if not url or not listed:
        return False
    key = canonical_url(url)
    return key in listed or key.split("#", 1)[0] in listed


def open_store(url: str | Path) -> Store:
    """``sqlite:///path/to.db`` or a plain path -> the embedded store;
    ``es://host:9200[/prefix]`` (``es+https://user:pass@host:9200/prefix``)
    -> Elasticsearch 8."""
    s = str(url)
    if s.split("://", 1)[0].lower() in ("es", "es+http", "es+https", "elasticsearch"):
        from .es import ElasticsearchStore

        return ElasticsearchStore(s)
    if s.startswith("sqlite:///"):
        s = s[len("sqlite:///") - 1 :] if s.startswith("sqlite:////") else s[len("sqlite:///") :]
    if "://" in s:
        raise ValueError(f"unsupported store URL: {url}")
    from .sqlite import SQLiteStore

    return SQLiteStore(Path(s))
