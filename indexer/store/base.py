"""The store interface every backend implements, and URL-based selection."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from complaintwatch.models import Incident, Post, SearchFilters, SearchHit


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
    def latest_posts(self, filters: SearchFilters | None = None, limit: int = 20) -> list[Post]: ...

    @abc.abstractmethod
    def check(self) -> list[str]:
        """Integrity problems found (empty list = healthy)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
