"""What only the server backend has: alias swap on re-index, bulk loading,
aggregations that must agree with the embedded store, kNN + BM25 hybrid.

The contract itself (tests/test_store.py) already runs against both backends
through the parametrised ``store`` fixture; these take only its "es" side."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import numpy as np
import pytest

from complaintwatch.models import Incident, Post, SearchFilters, SiteKind
from tests.corpora import load_cfpb, load_ru_reviews

es_only = pytest.mark.parametrize("store", ["es"], indirect=True)


def mixed_posts(shared, n: int) -> list[Post]:
    """n posts from the real texts; beyond the originals, copies on new URLs
    (a forum thread's pages, with replies pointing at the first post)."""
    base = load_ru_reviews(shared) + load_cfpb(shared)
    out = []
    for i in range(n):
        p = base[i % len(base)]
        rnd = i // len(base)
        if rnd == 0:
            out.append(p.with_())
        else:
            root = f"https://forum.example/t/{i % len(base)}"
            out.append(
                p.with_(
                    url=f"{root}?page={rnd}",
                    source_site="forum.example",
                    site_kind=SiteKind.FORUM,
                    parent_url=root if rnd % 2 else None,
                    thread_url=root,
                    position=rnd,
                )
            )
    return out


@es_only
def test_bulk_indexing_5k_posts(store, shared):
    posts = mixed_posts(shared, 5000)
    t = time.perf_counter()
    res = store.upsert_posts(posts)
    took = time.perf_counter() - t
    assert (res.new, res.updated, res.unchanged) == (5000, 0, 0)
    assert store.count_posts() == 5000
    ids = [p.id for p in posts]
    assert len(set(ids)) == 5000 and sorted(ids) == list(range(1, 5001))
    # a re-crawl of everything is recognised as unchanged, in bulk too
    res2 = store.upsert_posts([p.with_() for p in posts])
    assert (res2.new, res2.updated, res2.unchanged) == (0, 0, 5000)
    assert store.count_posts() == 5000 and store.check() == []
    assert sum(1 for _ in store.iter_posts(batch=700)) == 5000
    print(f"bulk-indexed 5000 posts in {took:.1f}s")


@es_only
def test_concurrent_writers_never_duplicate_a_url(store, shared):
    from indexer.store.es import ElasticsearchStore

    posts = load_ru_reviews(shared, limit=300)
    other = ElasticsearchStore(store.url)
    errors = []

    def write(s):
        try:
            s.upsert_posts([p.with_() for p in posts])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(s,)) for s in (store, other, store)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert errors == []
    assert store.count_posts() == 300
    assert store.check() == []


@es_only
def test_full_reindex_swaps_alias_without_downtime(store, shared, usem3):
    posts = mixed_posts(shared, 3000)
    store.upsert_posts(posts)
    some = [store.get_post_by_url(p.url) for p in posts[:100]]
    vecs = usem3.encode([p.text for p in some])
    store.set_vectors(usem3.name, [(p.id, v) for p, v in zip(some, vecs)])
    store.replace_incidents([Incident(id=1, label_en="Cards", label_ru="Карты", size=50)], {p.id: 1 for p in some[:50]})
    _, card_total = store.search_text("карта")
    _, ipo_total = store.search_text("ипотека")
    assert card_total > 0 and ipo_total > 0
    old_index = store.current_index()

    done = threading.Event()
    result: dict = {}

    def run():
        try:
            result["new"] = store.reindex()
        except Exception as e:  # noqa: BLE001 - reported below
            result["error"] = e
        finally:
            done.set()

    late = Post(
        url="https://late.example/written-during-reindex",
        source_site="late.example",
        site_kind=SiteKind.BLOG,
        title="Ипотека",
        text="Написано во время переиндексации: ипотеку одобрили через месяц.",
        companies=["gazprombank"],
    )
    searches, failures = 0, []
    t = threading.Thread(target=run)
    t.start()
    wrote_late = False
    while not done.is_set():
        try:
            _, n = store.search_text("карта")
            if n != card_total:
                failures.append(f"'карта' found {n}, expected {card_total}")
            hits = store.search_vector(usem3.name, vecs[3], limit=1)
            if not hits or hits[0][0] != some[3].id:
                failures.append(f"vector search returned {hits}")
            searches += 1
            if not wrote_late and searches == 2:
                store.upsert_posts([late])  # a write that lands while the copy runs
                wrote_late = True
        except Exception as e:  # noqa: BLE001 - any error is downtime
            failures.append(repr(e))
    t.join()
    assert "error" not in result, result.get("error")
    assert failures == [], failures[:5]
    assert searches >= 2, "the reindex finished before any search ran; the test proves nothing"

    new_index = result["new"]
    assert new_index != old_index and store.current_index() == new_index
    assert not store.es.indices.exists(index=old_index)
    assert store.count_posts() == 3000 + wrote_late
    _, n = store.search_text("карта")
    assert n == card_total
    if wrote_late:
        assert store.get_post_by_url(late.url) is not None
        _, n_ipo = store.search_text("ипотека")
        assert n_ipo == ipo_total + 1
    ids, mat = store.vectors(usem3.name)
    assert sorted(ids.tolist()) == sorted(p.id for p in some) and mat.shape == (100, 512)
    assert store.company_incident_stats("gazprombank")[0].count == 50
    # the id sequence carries on after the swap
    fresh = late.with_(url="https://late.example/after")
    store.upsert_posts([fresh])
    assert fresh.id == max(p.id for p in posts) + 1 + wrote_late
    assert store.check() == []


def _stats_tuple(stats):
    return [(s.company, s.incident_id, s.count, s.first_seen, s.last_seen, dict(s.monthly)) for s in stats]


@es_only
def test_aggregations_agree_with_the_embedded_store(store, shared, tmp_path):
    from indexer.store.sqlite import SQLiteStore

    lite = SQLiteStore(tmp_path / "same.db")
    posts = mixed_posts(shared, 4500)  # originals plus forum copies, some of them replies
    for s in (lite, store):
        s.upsert_posts([p.with_() for p in posts])
    assert lite.count_posts() == store.count_posts() == 4500
    # same ids in both (assigned in upsert order), so one assignment serves both
    incidents = [
        Incident(id=1, label_en="Cards", label_ru="Карты", size=0),
        Incident(id=2, label_en="Mortgage", label_ru="Ипотека", size=0),
        Incident(id=3, label_en="Fees", label_ru="Комиссии", size=0),
    ]
    assignment = {i + 1: (None if i % 7 == 0 else 1 + (i * 31) % 3) for i in range(4500)}
    for s in (lite, store):
        s.replace_incidents(incidents, assignment)
    assert store.companies() == lite.companies()
    companies = [c for c, _ in lite.companies()]
    assert "gazprombank" in companies and len(companies) > 5
    for c in companies:
        assert _stats_tuple(store.company_incident_stats(c)) == _stats_tuple(lite.company_incident_stats(c)), c
    # the same holds after the assignment changes (cleared and moved incidents)
    moved = {pid: (2 if iid == 1 else None if iid == 3 else iid) for pid, iid in assignment.items()}
    for s in (lite, store):
        s.replace_incidents(incidents[:2], moved)
    for c in companies[:10]:
        assert _stats_tuple(store.company_incident_stats(c)) == _stats_tuple(lite.company_incident_stats(c)), c
    assert [i.id for i in store.incidents()] == [i.id for i in lite.incidents()]
    # filters and latest posts agree as well
    f = SearchFilters(company="gazprombank", include_comments=False, since=datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert [p.id for p in store.latest_posts(f, limit=50)] == [p.id for p in lite.latest_posts(f, limit=50)]
    for q in ["карта", "ипотека OR вклад", '"кредитная карта"', "credit report -mortgage", "отменили заказ"]:
        assert store.search_text(q, f)[1] == lite.search_text(q, f)[1], q
        assert store.search_text(q)[1] == lite.search_text(q)[1], q
    lite.close()


@es_only
def test_hybrid_query_combines_bm25_and_knn(store, shared, usem3):
    posts = load_ru_reviews(shared, limit=300)
    store.upsert_posts(posts)
    stored = [store.get_post_by_url(p.url) for p in posts]
    vecs = usem3.encode([p.text for p in stored])
    store.set_vectors(usem3.name, [(p.id, v) for p, v in zip(stored, vecs)])
    target = stored[42]
    hits = store.search_hybrid("ипотека", usem3.name, vecs[42], limit=10)
    assert hits[0].post.id == target.id  # the vector match wins with the default weights
    text_ids = {h.post.id for h in store.search_text("ипотека", limit=300)[0]}
    # the rest are text matches and near neighbours, snippets highlight the query
    knn_ids = {i for i, _ in store.search_vector(usem3.name, vecs[42], limit=10)}
    assert {h.post.id for h in hits} <= text_ids | knn_ids
    assert any("<mark>" in h.snippet for h in hits if h.post.id in text_ids)
    only_text = store.search_hybrid("ипотека", usem3.name, vecs[42], SearchFilters(site="nowhere"), limit=10)
    assert only_text == []


@es_only
def test_language_analyzers_and_template(store):
    es = store.es
    tpl = es.indices.get_index_template(name=store.template)["index_templates"][0]["index_template"]
    assert tpl["index_patterns"] == [f"{store.alias}-*"]
    props = tpl["template"]["mappings"]["properties"]
    assert props["text_stems"]["analyzer"] == "whitespace"
    # the local server and real clusters both have the language analyzers
    assert props["text"]["fields"]["ru"]["analyzer"] == "russian"
    assert props["text"]["fields"]["en"]["analyzer"] == "english"
    store.upsert_posts(
        [Post(url="http://e.test/1", source_site="e.test", site_kind=SiteKind.BLOG, title="", text="Отменили заказы")]
    )
    n = es.count(index=store.alias, query={"match": {"text.ru": "отменил заказ"}})["count"]
    assert n == 1
    assert es.indices.get_alias(name=store.alias)  # posts live behind the alias


@es_only
def test_schema_version_is_checked(store):
    from indexer.store.es import SCHEMA_VERSION, ElasticsearchStore, SchemaError

    assert store.schema_version() == SCHEMA_VERSION
    store.es.indices.put_mapping(index=store.alias, meta={"complaintwatch_schema": SCHEMA_VERSION + 1})
    with pytest.raises(SchemaError):
        ElasticsearchStore(store.url)


def test_store_url_parsing():
    from indexer.store.es import parse_es_url

    c = parse_es_url("es://127.0.0.1:9200")
    assert c["hosts"] == ["http://127.0.0.1:9200"] and c["prefix"] == "complaintwatch"
    c = parse_es_url("es+https://elastic:p%40ss@search.example/cw-prod?replicas=1&shards=3")
    assert c["hosts"] == ["https://search.example:9200"] and c["prefix"] == "cw-prod"
    assert c["basic_auth"] == ("elastic", "p@ss") and c["replicas"] == "1" and c["shards"] == 3
    for bad in ["sqlite:///x.db", "es://h/Upper", "es://h/x?refresh=1"]:
        with pytest.raises(ValueError):
            parse_es_url(bad)


@es_only
def test_vector_search_filters_and_unknown_model(store, shared):
    posts = load_ru_reviews(shared, limit=50)
    store.upsert_posts(posts)
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(50, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    stored = [store.get_post_by_url(p.url) for p in posts]
    store.set_vectors("toy", [(p.id, v) for p, v in zip(stored, vecs)])
    assert store.search_vector("never-used", vecs[0]) == []
    res = store.search_vector("toy", vecs[5], limit=50)
    sims = vecs @ vecs[5]
    assert [i for i, _ in res[:5]] == [stored[j].id for j in np.argsort(-sims)[:5]]
    assert all(abs(s - sims[[p.id for p in stored].index(i)]) < 1e-4 for i, s in res)
    since = datetime(2025, 3, 1, tzinfo=timezone.utc)
    dated = {p.id for p in stored if p.published_at and p.published_at >= since}
    got = {i for i, _ in store.search_vector("toy", vecs[5], SearchFilters(since=since), limit=50)}
    assert got == dated
    assert len(list(store.posts_without_vector("toy"))) == 0
    assert sum(len(b) for b in store.posts_without_vector("other", batch=7)) == 50


def test_partial_updates_keep_posts_searchable(store, shared, usem3):
    """Both backends: vectors, analysis and incidents written after the posts
    must not change what full-text search finds (an ES partial update
    re-indexes the document from _source)."""
    posts = load_ru_reviews(shared, limit=120)
    store.upsert_posts(posts)
    before = {q: store.search_text(q, limit=200) for q in ["карта", '"кредитная карта"', "ипотека OR вклад"]}
    stored = [store.get_post_by_url(p.url) for p in posts]
    store.set_vectors(usem3.name, [(p.id, v) for p, v in zip(stored, usem3.encode([p.text for p in stored[:60]]))])
    store.set_analysis([(p.id, ["gazprombank", "other-bank"], "ru") for p in stored[60:]])
    store.replace_incidents([Incident(id=7, label_en="x", label_ru="х", size=30)], {p.id: 7 for p in stored[30:90]})
    for q, (hits, total) in before.items():
        hits2, total2 = store.search_text(q, limit=200)
        # same posts; the order may move a little on ES (deleted docs count in BM25 stats until merged)
        assert total2 == total and {h.post.id for h in hits2} == {h.post.id for h in hits}, q
    assert store.search_text("карта", SearchFilters(company="other-bank"))[1] > 0
    assert store.search_text("карта", SearchFilters(incident_id=7))[1] > 0
    assert store.check() == []
