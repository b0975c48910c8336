"""The search role on SQLite (roles.SearchStore): BM25 over the FTS5 index of
stems, vector search through the ANN index (search_state.py), filters and
facets over the cached filter columns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from complaintwatch.models import Post, SearchFilters, SearchHit

from ...query import ParsedQuery, constraints_fts5, parse_query, to_fts5
from ...snippets import snippet
from ...stance import COMPLAINT
from ..roles import SearchStore
from ..types import FACET_FIELDS, MAX_SAME_STORY, FacetCounts, facet_filters, facet_from_parts
from . import bm25
from .connection import SQLiteConnection
from .schema import COLS, iso, posts_by_id, row_to_post
from .search_state import filter_key

# SearchFilters.post_type: complaints are opening posts and reviews by customers, never company replies
_POST_TYPE_SQL = {
    "complaint": "({p}.parent_url IS NULL AND {p}.is_company_reply = 0)",
    "comment": "({p}.parent_url IS NOT NULL AND {p}.is_company_reply = 0)",
    "company_reply": "{p}.is_company_reply != 0",
}


def filter_sql(f: SearchFilters | None, alias: str = "p") -> tuple[str, list]:
    """The filters as SQL over ``posts`` aliased ``alias``: (" AND ..." conditions, their arguments)."""
    if f is None:
        return "", []
    sql: list[str] = []
    args: list = []
    if f.company:
        sql.append(f"EXISTS (SELECT 1 FROM post_companies c WHERE c.post_id = {alias}.id AND c.company = ?)")
        args.append(f.company)
    if f.incident_id is not None:
        sql.append(f"{alias}.incident_id = ?")
        args.append(f.incident_id)
    if f.site:
        sql.append(f"{alias}.source_site = ?")
        args.append(f.site)
    if f.language:
        sql.append(f"{alias}.language = ?")
        args.append(f.language)
    if f.since:
        sql.append(f"{alias}.published_at >= ?")
        args.append(iso(f.since))
    if f.until:
        sql.append(f"{alias}.published_at < ?")
        args.append(iso(f.until))
    if not f.include_comments:
        sql.append(f"{alias}.parent_url IS NULL")
    if f.stance == COMPLAINT:  # not classified yet counts as a complaint; a company's reply never does
        sql.append(f"({alias}.stance = ? OR ({alias}.stance IS NULL AND {alias}.is_company_reply = 0))")
        args.append(f.stance)
    elif f.stance:
        sql.append(f"{alias}.stance = ?")
        args.append(f.stance)
    if f.post_type:
        sql.append(_POST_TYPE_SQL[f.post_type].format(p=alias))
    return ("".join(" AND " + s for s in sql), args)


# title words weigh twice the text's (the ranking every search shares)
_BM25 = "bm25(posts_fts, 2.0, 1.0)"


def _member(ids: np.ndarray, sorted_allowed: np.ndarray) -> np.ndarray:
    """Mask of ``ids`` found in the sorted array ``sorted_allowed``."""
    if not len(sorted_allowed):
        return np.zeros(len(ids), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_allowed, ids), len(sorted_allowed) - 1)
    return sorted_allowed[pos] == ids


def _page(ids: np.ndarray, scores: np.ndarray, offset: int, k: int) -> list[tuple[int, float]]:
    """Rows offset..k of the matches by BM25 (lower is better), then id, as (id, score) pairs."""
    if k < len(scores):  # only the best k need sorting: those scoring up to the k-th score (ties included)
        near = scores <= np.partition(scores, k - 1)[k - 1]
        ids, scores = ids[near], scores[near]
    order = np.lexsort((ids, scores))[offset:k]  # best BM25 first, then by id
    return [(int(ids[i]), -float(scores[i])) for i in order]


class SQLiteSearch(SQLiteConnection, SearchStore):
    _filter_sql = staticmethod(filter_sql)  # the filters' SQL, which tests hold the cached columns to
    # matches from which SQLite ranks and keeps the best (ORDER BY .. LIMIT) rather than
    # returning every score: below it the one pass with every score is as cheap
    RANK_IN_SQL_FROM = 2_000
    SCORE_WORDS_IN_NUMPY = True  # bm25.py for broad word queries (tests turn it off to reach SQL's paths)

    if TYPE_CHECKING:  # the post role's (posts.py): exact search reads the cached vector matrix

        def vectors(self, model: str, ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def _text_ids(self, expr: str) -> np.ndarray:
        """Ids (ascending) of every post the FTS expression matches (remembered)."""
        return self.search_state().fts_ids(self.db, expr)

    def _text_matches(self, expr: str) -> tuple[np.ndarray, np.ndarray]:
        """Every post the FTS expression matches: ids ascending and their BM25 scores
        (lower is better), remembered while the store is unchanged."""

        def compute() -> tuple[np.ndarray, np.ndarray]:
            rows = self.db.execute(f"SELECT rowid, {_BM25} FROM posts_fts WHERE posts_fts MATCH ?", (expr,)).fetchall()
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            scores = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
            if len(ids) > 1 and not bool((ids[1:] > ids[:-1]).all()):  # FTS5 gives rowid order; don't rely on it
                order = np.argsort(ids, kind="stable")
                ids, scores = ids[order], scores[order]
            ids.flags.writeable = scores.flags.writeable = False  # shared through the memo
            return ids, scores

        return self.search_state().remembered("text", (expr,), compute, keep=16)

    def _text_best(self, expr: str, m: int, among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The best ``m`` matches of the expression, best first (BM25, then id):
        SQLite keeps only m rows while it scores the match, so a broad term does
        not hand tens of thousands of scores to Python. ``among``: score only these
        ids (the matches that pass a selective filter; the others are skipped before
        BM25, which is most of a broad term's cost). Remembered while the store is
        unchanged."""

        def compute() -> tuple[np.ndarray, np.ndarray]:
            if among is None:
                rows = self.db.execute(
                    f"SELECT rowid, {_BM25} AS s FROM posts_fts WHERE posts_fts MATCH ? ORDER BY s, rowid LIMIT ?",
                    (expr, m),
                ).fetchall()
            else:
                # "+rowid": a membership test on each match, not one full-text lookup per id
                rows = self.db.execute(
                    f"SELECT rowid, {_BM25} AS s FROM posts_fts WHERE posts_fts MATCH ?"
                    " AND +rowid IN (SELECT value FROM json_each(?)) ORDER BY s, rowid LIMIT ?",
                    (expr, "[" + ",".join(map(str, among.tolist())) + "]", m),
                ).fetchall()
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            scores = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
            ids.flags.writeable = scores.flags.writeable = False  # shared through the memo
            return ids, scores

        key = (expr, m, None if among is None else among.tobytes())
        return self.search_state().remembered("best", key, compute, keep=16)

    def search_text_ranked(
        self, query: str, filters: SearchFilters | None = None, limit: int = 20, offset: int = 0
    ) -> tuple[list[tuple[int, float]], int]:
        """search_text's (post id, score) pairs and total, without reading the posts:
        the web's fusion ranks 100 candidates and shows 20 of them."""
        pq = parse_query(query)
        expr = to_fts5(pq)
        if expr is None:
            return [], 0
        limit, offset = max(0, int(limit)), max(0, int(offset))
        matched = self._text_ids(expr)
        allowed = self.search_state().allowed_ids(self.db, filters)
        passing = None if allowed is None else matched[_member(matched, allowed)]
        n = len(matched)
        total = n if passing is None else len(passing)
        k = offset + limit
        if offset >= total or not limit:
            return [], total
        if n >= self.RANK_IN_SQL_FROM:
            candidates = matched if passing is None else passing
            scored = self._scores_in_numpy(pq, candidates, n)
            if scored is not None:  # plain words: FTS5's formula over its bulk counts
                return _page(candidates, scored, offset, k), total
            if passing is not None and 2 * total < n:
                # a selective filter: BM25 of the passing matches only
                ids, scores = self._text_best(expr, k, among=passing)
                return [(int(i), -float(s)) for i, s in zip(ids[offset:k], scores[offset:k])], total
            # the best k that pass the filters are among the best m of all matches once
            # k of those m pass: m from the share that passes, deepened if it fell short
            m = k if passing is None else int(2 * k * n / total) + 50
            while m < n // 2:
                ids, scores = self._text_best(expr, m)
                if allowed is not None:
                    keep = _member(ids, allowed)
                    ids, scores = ids[keep], scores[keep]
                if len(ids) >= k or len(ids) == total:
                    return [(int(i), -float(s)) for i, s in zip(ids[offset:k], scores[offset:k])], total
                m *= 4
        # a small match, or a deep or selective page: every match's score
        ids, scores = self._text_matches(expr)
        if allowed is not None:
            keep = _member(ids, allowed)
            ids, scores = ids[keep], scores[keep]
        return _page(ids, scores, offset, k), total

    def _scores_in_numpy(self, pq: ParsedQuery, ids: np.ndarray, matched: int) -> np.ndarray | None:
        """FTS5's bm25() of ``ids`` (rows of a match of ``matched`` posts) from bulk
        counts (bm25.py), when the query is one word or words joined by OR (-words
        aside) and reading their occurrences costs less than FTS5's row-by-row
        scoring; else None."""
        if not self.SCORE_WORDS_IN_NUMPY or len(pq.must) + len(pq.any_of) != 1:
            # words that must all occur: their posts outnumber the few that hold them all,
            # and FTS5 scores only those
            return None
        phrases = pq.must + [ph for group in pq.any_of for ph in group]  # the order to_fts5 names them
        if any(len(ph) != 1 for ph in phrases):
            return None  # a quoted phrase of several words: positions, FTS5's job
        counts = [bm25.word_counts(self.db, ph[0]) for ph in phrases]
        if any(docs == 0 for docs, _ in counts):
            return None  # not a word as the index holds it
        if sum(occurrences for _, occurrences in counts) > bm25.MAX_OCCURRENCES_PER_MATCH * matched:
            return None  # e.g. "the", or two broad words that rarely meet: FTS5 scores fewer rows
        state = self.search_state()
        lengths = state.remembered("doc-lengths", (), lambda: bm25.DocLengths.load(self.db), keep=1)
        if lengths is None:
            return None
        terms = []
        for ph, (docs, _) in zip(phrases, counts):
            tf = state.remembered("term-freqs", (ph[0],), partial(bm25.term_freqs, self.db, ph[0]), keep=32)
            if len(tf.ids) != docs:
                return None
            terms.append((bm25.idf(lengths.nrow, docs), tf))
        return bm25.scores(ids, terms, lengths)

    def search_text(
        self, query: str, filters: SearchFilters | None = None, limit: int = 20, offset: int = 0
    ) -> tuple[list[SearchHit], int]:
        ranked, total = self.search_text_ranked(query, filters, limit, offset)
        posts = posts_by_id(self.db, (pid for pid, _ in ranked))
        make = partial(snippet, query_stems=parse_query(query).positive_stems)
        return [
            SearchHit(post=posts[pid], score=score, make_snippet=make) for pid, score in ranked if pid in posts
        ], total

    def search_vector(
        self,
        model: str,
        vector: np.ndarray,
        filters: SearchFilters | None = None,
        limit: int = 20,
        query: str = "",
        exact: bool = False,
    ) -> list[tuple[int, float]]:
        """Approximate (HNSW) nearest neighbours with the filters applied inside
        the search; exact for small stores and selective filters, or with ``exact``.
        Remembered until the store changes: a search page asks the same one for its
        results and for its facets."""
        if limit <= 0:
            return []
        vector = np.ascontiguousarray(vector, dtype=np.float32)
        key = (model, vector.tobytes(), filter_key(filters), int(limit), query, bool(exact))
        found = self.search_state().remembered(
            "vector", key, lambda: self._search_vector(model, vector, filters, limit, query, exact)
        )
        return list(found)

    def _search_vector(
        self, model: str, vector: np.ndarray, filters: SearchFilters | None, limit: int, query: str, exact: bool
    ) -> list[tuple[int, float]]:
        state = self.search_state()
        # the query's phrases, +words and -words hold for vector hits too
        must, must_not = constraints_fts5(parse_query(query))
        allowed = state.allowed_ids(self.db, filters, must, must_not)
        if allowed is not None and not len(allowed):
            return []
        index = None if exact else state.vector_index(self.db, model)
        if index is None:  # exact: asked for, or the first graph is still being built
            return self._search_vector_exact(model, vector, allowed, limit)
        with index.lock:
            mask = None
            if allowed is not None:
                mask = np.zeros(index.ntotal, dtype=bool)
                mask[index.positions(allowed)] = True
            found = index.search(vector, limit, mask)
        return [(int(i), float(s)) for i, s in zip(found.ids, found.scores)]

    def _search_vector_exact(
        self, model: str, vector: np.ndarray, allowed: np.ndarray | None, limit: int
    ) -> list[tuple[int, float]]:
        ids, mat = self.vectors(model)
        if not len(ids):
            return []
        if allowed is not None:
            keep = _member(ids, allowed)
            ids, mat = ids[keep], mat[keep]
        sims = mat @ np.asarray(vector, dtype=np.float32)
        k = min(limit, len(sims))
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(ids[i]), float(sims[i])) for i in top]

    def facet_counts(
        self,
        query: str,
        filters: SearchFilters | None = None,
        fields: Sequence[str] = FACET_FIELDS,
        also: Mapping[str, Iterable[int]] | None = None,
    ) -> FacetCounts:
        # over the cached filter columns: one full-text lookup, then a mask and a bincount per facet
        facets = self.search_state().facets(self.db)
        text = None  # None: every post (no query)
        if query.strip():
            expr = to_fts5(parse_query(query))
            # the match the search itself just made (remembered): not a second pass over the index
            text = facets.in_ids(self._text_ids(expr) if expr is not None else np.zeros(0, np.int64))
        out: FacetCounts = {}
        for name in fields:
            m = facets.mask(self.db, facet_filters(filters, name))
            if text is not None:
                m &= text
            extra = list((also or {}).get(name) or ())
            if extra:
                m |= facets.in_ids(np.sort(np.asarray(extra, dtype=np.int64)))
            at = np.flatnonzero(m)  # counted at the matching positions only
            root, reply = facets.root[at], facets.reply[at]
            kinds = (at[root & ~reply], at[~root & ~reply], at[reply])
            out[name] = facet_from_parts(*(facets.counts(self.db, name, k) for k in kinds))
        return out

    def latest_posts(self, filters: SearchFilters | None = None, limit: int = 20, offset: int = 0) -> list[Post]:
        where, args = filter_sql(filters)
        rows = self.db.execute(
            f"SELECT {COLS} FROM posts p WHERE 1=1{where}"
            " ORDER BY published_at DESC NULLS LAST, id DESC LIMIT ? OFFSET ?",
            (*args, max(0, int(limit)), max(0, int(offset))),
        ).fetchall()
        return [row_to_post(r) for r in rows]

    def count_latest(self, filters: SearchFilters | None = None) -> int:
        where, args = filter_sql(filters)
        return self.db.execute(f"SELECT count(*) FROM posts p WHERE 1=1{where}", args).fetchone()[0]

    def same_story(self, post: Post) -> list[Post]:
        if not post.content_hash or post.parent_url:
            return []
        rows = self.db.execute(
            f"SELECT {COLS} FROM posts WHERE content_hash = ? AND url != ? AND parent_url IS NULL ORDER BY id LIMIT ?",
            (post.content_hash, post.url, MAX_SAME_STORY),
        ).fetchall()
        return [row_to_post(r) for r in rows]
