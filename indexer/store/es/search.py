"""The search role: full text (BM25 over the stem fields), vectors (kNN with
the filters inside the kNN search), hybrid (both in one request), facets, and
the filtered latest-posts list. Request bodies come from ``queries``;
snippets are computed client-side by ``indexer.snippets`` (as with SQLite),
only for the hits whose snippet is read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from complaintwatch.models import Post, SearchFilters, SearchHit

from ...query import ParsedQuery, parse_query
from ...snippets import snippet
from ..base import FACET_FIELDS, MAX_SAME_STORY, FacetCounts
from . import aggregations as agg
from . import queries as q
from .connection import MAX_WINDOW, PAGE, ESBase
from .documents import POST_SOURCE, post_from_source, vector_field


def _hits(res: dict[str, Any], stems: set[str]) -> list[SearchHit]:
    # snippets made when read: the web fuses 100 text hits and shows 20
    make = partial(snippet, query_stems=stems)
    return [
        SearchHit(post=post_from_source(h["_source"]), score=float(h["_score"] or 0.0), make_snippet=make)
        for h in res["hits"]["hits"]
    ]


class SearchMixin(ESBase):
    # the request builders, as they were reachable before the split
    filter_clauses = staticmethod(q.filter_clauses)
    text_query = staticmethod(q.text_query)

    def search_text(
        self, query: str, filters: SearchFilters | None = None, limit: int = 20, offset: int = 0
    ) -> tuple[list[SearchHit], int]:
        pq = parse_query(query)
        body = q.text_query(pq, filters)
        if body is None:
            return [], 0
        offset = max(0, int(offset))
        size = max(0, min(int(limit), MAX_WINDOW - offset))
        res = self.es.search(
            index=self.alias,
            query=body,
            from_=min(offset, MAX_WINDOW),
            size=size,
            sort=[{"_score": "desc"}, {"id": "asc"}],
            source=POST_SOURCE,
            track_total_hits=True,
        )
        return _hits(res, pq.positive_stems), int(res["hits"]["total"]["value"])

    def _knn(
        self, model: str, vector: np.ndarray, filters: SearchFilters | None, k: int, pq: ParsedQuery | None = None
    ) -> dict[str, Any] | None:
        """The kNN clause, or None when no post has a vector of this model."""
        field = vector_field(model)
        if not self._has_vector_field(field):
            return None
        return q.knn_clause(field, vector, filters, k, pq)

    def search_vector(
        self,
        model: str,
        vector: np.ndarray,
        filters: SearchFilters | None = None,
        limit: int = 20,
        query: str = "",
        exact: bool = False,
    ) -> list[tuple[int, float]]:
        """Approximate (HNSW) kNN; ``exact``: brute force over every post the
        filters allow, the truth the bench measures recall against."""
        if limit <= 0:
            return []
        knn = self._knn(model, vector, filters, min(limit, MAX_WINDOW), parse_query(query))
        if knn is None:
            return []
        if exact:  # numpy over the stored vectors (the test server has no scripting for script_score)
            ids, mat = self.vectors(model)
            if "filter" in knn:
                allowed = {h["_source"]["id"] for page in self._scan(knn["filter"], ["id"]) for h in page}
                keep = np.fromiter((int(i) in allowed for i in ids), dtype=bool, count=len(ids))
                ids, mat = ids[keep], mat[keep]
            if not len(ids):
                return []
            sims = mat @ np.asarray(vector, dtype=np.float32)
            top = np.argsort(-sims, kind="stable")[: knn["k"]]
            return [(int(ids[i]), float(sims[i])) for i in top]
        hits = self.es.search(index=self.alias, knn=knn, size=knn["k"], source=["id"])["hits"]["hits"]
        # cosine similarity scores are (1 + cos) / 2
        return [(int(h["_source"]["id"]), 2.0 * float(h["_score"]) - 1.0) for h in hits]

    def search_hybrid(
        self,
        query: str,
        model: str,
        vector: np.ndarray,
        filters: SearchFilters | None = None,
        limit: int = 20,
        text_boost: float = 1.0,
        vector_boost: float = 10.0,
    ) -> list[SearchHit]:
        """BM25 and kNN in one request: posts that match either, scored by
        ``text_boost * bm25 + vector_boost * (1 + cos) / 2``."""
        pq = parse_query(query)
        body = q.text_query(pq, filters)
        knn = self._knn(model, vector, filters, limit, pq)
        if body is None and knn is None:
            return []
        kw: dict[str, Any] = {}
        if body is not None:
            body["bool"]["boost"] = text_boost
            kw["query"] = body
        if knn is not None:
            knn["boost"] = vector_boost
            kw["knn"] = knn
        res = self.es.search(index=self.alias, size=limit, source=POST_SOURCE, **kw)
        return _hits(res, pq.positive_stems)

    def facet_counts(
        self,
        query: str,
        filters: SearchFilters | None = None,
        fields: Sequence[str] = FACET_FIELDS,
        also: Mapping[str, Iterable[int]] | None = None,
    ) -> FacetCounts:
        text: dict[str, Any] | None = None
        if query.strip():
            text = q.text_query(parse_query(query), None) or {"match_none": {}}
        aggs = q.facets_request(text, filters, fields, also)
        if not aggs:
            return {}
        res = self.es.search(index=self.alias, size=0, aggs=aggs, track_total_hits=False)
        return agg.facet_counts(res["aggregations"], fields)

    def same_story(self, post: Post) -> list[Post]:
        """One story on several URLs: the other opening posts with its content hash."""
        if not post.content_hash or post.parent_url:
            return []
        hits = self.es.search(
            index=self.alias,
            query=q.same_story_query(post.content_hash, post.url),
            sort=[{"id": "asc"}],
            size=MAX_SAME_STORY,
            source=POST_SOURCE,
        )["hits"]["hits"]
        return [post_from_source(h["_source"]) for h in hits]

    def latest_posts(self, filters: SearchFilters | None = None, limit: int = 20, offset: int = 0) -> list[Post]:
        query = q.filter_query(filters)
        sort = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "desc"}]
        limit, offset = max(0, int(limit)), max(0, int(offset))
        if offset + limit > MAX_WINDOW:  # past the from/size window: walk with search_after
            out: list[Post] = []
            for hits in self._scan(query, POST_SOURCE, PAGE, sort):
                skip = min(offset, len(hits))
                offset -= skip
                out += [post_from_source(h["_source"]) for h in hits[skip:]]
                if len(out) >= limit:
                    break
            return out[:limit]
        res = self.es.search(index=self.alias, query=query, sort=sort, from_=offset, size=limit, source=POST_SOURCE)
        return [post_from_source(h["_source"]) for h in res["hits"]["hits"]]

    def count_latest(self, filters: SearchFilters | None = None) -> int:
        return int(self.es.count(index=self.alias, query=q.filter_query(filters))["count"])
