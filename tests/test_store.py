"""The store contract, on real Russian reviews. Every backend must pass these."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np
import pytest

from complaintwatch.models import Incident, SearchFilters
from tests.corpora import load_ru_reviews


@pytest.fixture
def filled(store, shared):
    posts = load_ru_reviews(shared, limit=400)
    res = store.upsert_posts(posts)
    assert res.new == len(posts)
    return store, posts


def test_upsert_is_idempotent_by_canonical_url(filled):
    store, posts = filled
    n = store.count_posts()
    # the same URL with tracking junk and a trailing slash is the same post
    again = [p.with_(url=p.url.rstrip("/") + "/?utm_source=tg") for p in posts[:50]]
    res = store.upsert_posts(again)
    assert (res.new, res.updated, res.unchanged) == (0, 0, 50)
    assert store.count_posts() == n


def test_changed_content_updates_in_place_and_drops_stale_vector(filled, usem3):
    store, posts = filled
    p = store.get_post_by_url(posts[0].url)
    store.set_vectors(usem3.name, [(p.id, usem3.encode([p.text])[0])])
    assert p.id in set(store.vectors(usem3.name)[0].tolist())
    res = store.upsert_posts([p.with_(text=p.text + " Дополнение: деньги так и не вернули.")])
    assert res.updated == 1
    q = store.get_post_by_url(posts[0].url)
    assert q.id == p.id and q.text.endswith("не вернули.")
    assert p.id not in set(store.vectors(usem3.name)[0].tolist())
    hits, _ = store.search_text("дополнение вернули")
    assert [h.post.id for h in hits] == [p.id]


def test_russian_search_matches_inflected_forms(filled):
    store, posts = filled
    hits, total = store.search_text("ипотеку", limit=100)
    assert total > 0
    texts = [h.post.text.lower() for h in hits]
    # found through other case forms, not only the literal query word
    assert any("ипотека" in t and "ипотеку" not in t for t in texts)
    expected = {p.url for p in posts if re.search(r"\bипотек(а|и|е|у|ой|ою)\b", (p.title + " " + p.text).lower())}
    assert expected <= {h.post.url for h in store.search_text("ипотеку", limit=1000)[0]}


def test_snippets_highlight_original_words_and_escape(store):
    from complaintwatch.models import Post, SiteKind

    store.upsert_posts(
        [
            Post(
                url="http://example.test/x",
                source_site="example.test",
                site_kind=SiteKind.BLOG,
                title="<script>alert(1)</script>",
                text="Магазин <b>отменил</b> заказ <script>alert(1)</script> без объяснений",
            )
        ]
    )
    hits, total = store.search_text("отменили заказы")
    assert total == 1
    snip = hits[0].snippet
    assert "<script>" not in snip and "&lt;script&gt;" in snip
    assert "<mark>заказ</mark>" in snip and "<mark>отменил</mark>" in snip


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced',
        "NEAR(a b)",
        "title:x",
        "*",
        "^кредит",
        "a AND OR NOT",
        "-",
        '""',
        "'; DROP TABLE posts; --",
        "карт* OR",
        "x" * 20000,
        "(((",
        "кредит -кредит",
    ],
)
def test_hostile_queries_never_error(filled, query):
    store, _ = filled
    hits, total = store.search_text(query)
    assert isinstance(total, int) and total >= 0
    assert store.count_posts() == 400


def test_query_syntax_phrase_or_exclude(filled):
    store, posts = filled
    _, card = store.search_text("карта")
    _, card_not_credit = store.search_text("карта -кредитная")
    _, either = store.search_text("ипотека OR вклад")
    _, ipo = store.search_text("ипотека")
    _, dep = store.search_text("вклад")
    assert 0 < card_not_credit < card
    assert max(ipo, dep) <= either <= ipo + dep
    hits, _ = store.search_text('"кредитная карта"')
    assert hits and all(re.search(r"кредитн\w* карт", h.post.text.lower()) for h in hits)


def test_filters_dates_and_language(filled):
    store, posts = filled
    since = datetime(2024, 6, 1, tzinfo=timezone.utc)
    hits, total = store.search_text("карта", SearchFilters(since=since), limit=500)
    assert total > 0 and all(h.post.published_at >= since for h in hits)
    _, none = store.search_text("карта", SearchFilters(language="en"))
    assert none == 0
    _, by_company = store.search_text("карта", SearchFilters(company="gazprombank"))
    assert by_company == store.search_text("карта")[1]


def test_vector_search_finds_paraphrase(filled, usem3):
    store, posts = filled
    batch = posts[:200]
    stored = [store.get_post_by_url(p.url) for p in batch]
    vecs = usem3.encode([p.text for p in stored])
    store.set_vectors(usem3.name, [(p.id, v) for p, v in zip(stored, vecs)])
    ids, mat = store.vectors(usem3.name)
    assert mat.shape == (200, 512) and np.allclose(np.linalg.norm(mat, axis=1), 1, atol=1e-3)
    target = stored[17]
    res = store.search_vector(usem3.name, vecs[17], limit=5)
    assert res[0][0] == target.id and res[0][1] == pytest.approx(1.0, abs=1e-3)
    # a filter that excludes the target removes it
    res2 = store.search_vector(usem3.name, vecs[17], SearchFilters(site="nowhere"), limit=5)
    assert res2 == []


def test_incidents_and_company_stats(filled):
    store, posts = filled
    stored = [store.get_post_by_url(p.url) for p in posts[:30]]
    incidents = [Incident(id=1, label_en="Card problems", label_ru="Проблемы с картой", size=20)]
    store.replace_incidents(incidents, {p.id: 1 for p in stored[:20]})
    assert [i.label_ru for i in store.incidents()] == ["Проблемы с картой"]
    stats = store.company_incident_stats("gazprombank")
    assert len(stats) == 1 and stats[0].count == 20
    dated = [p.published_at for p in stored[:20] if p.published_at]
    assert stats[0].first_seen == min(dated) and stats[0].last_seen == max(dated)
    assert sum(stats[0].monthly.values()) == 20
    assert store.companies()[0] == ("gazprombank", 400)


def test_schema_is_versioned(tmp_path):
    import sqlite3

    from indexer.store.sqlite import SCHEMA_VERSION, SchemaError, SQLiteStore

    s = SQLiteStore(tmp_path / "v.db")
    assert s.schema_version() == SCHEMA_VERSION
    s.close()
    conn = sqlite3.connect(tmp_path / "v.db")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError):
        SQLiteStore(tmp_path / "v.db")


def test_integrity_check(filled):
    store, _ = filled
    assert store.check() == []


def test_sqlite_migrates_a_v1_database_in_place(tmp_path):
    import sqlite3

    from indexer.store.sqlite import MIGRATIONS, SCHEMA_VERSION, SQLiteStore

    conn = sqlite3.connect(tmp_path / "old.db")
    conn.executescript(MIGRATIONS[0] + "; PRAGMA user_version=1;")
    conn.execute(
        "INSERT INTO posts (url, source_site, site_kind, title, text, fetched_at, content_hash)"
        " VALUES ('http://a.test/1', 'a.test', 'blog', 'Заказ отменили', 'Магазин отменил заказ', "
        "'2024-01-01T00:00:00+00:00', 'h')"
    )
    conn.commit()
    conn.close()
    s = SQLiteStore(tmp_path / "old.db")
    assert s.schema_version() == SCHEMA_VERSION >= 2
    p = s.get_post_by_url("http://a.test/1")
    assert p.title == "Заказ отменили" and p.subject is None


def test_subject_round_trips(store):
    from complaintwatch.models import Post, SiteKind

    store.upsert_posts(
        [
            Post(
                url="http://r.test/review/1",
                source_site="r.test",
                site_kind=SiteKind.REVIEW,
                title="Ужас",
                text="Курьер потерял посылку, деньги не вернули.",
                subject="gousto.co.uk",
            )
        ]
    )
    assert store.get_post_by_url("http://r.test/review/1").subject == "gousto.co.uk"
