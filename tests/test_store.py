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


# each post's companies, by its position in the corpus: three banks over the
# same review texts, one of them on every third post beside another bank
_COMPANY_PATTERN = (["gazprombank"], ["sberbank"], ["gazprombank", "sberbank"], ["tinkoff"], ["sberbank"])


def test_company_filter_keeps_only_that_companys_posts(filled):
    """Several companies over overlapping text: the filter must pick each
    company's own posts out of the same query's hits, no more and no fewer."""
    store, posts = filled
    stored = [store.get_post_by_url(p.url) for p in posts]
    owners = {p.url: _COMPANY_PATTERN[i % len(_COMPANY_PATTERN)] for i, p in enumerate(stored)}
    store.set_analysis([(p.id, owners[p.url], "ru") for p in stored])
    all_hits, total = store.search_text("карта", limit=1000)
    assert total == len(all_hits) > 50
    for company in ("gazprombank", "sberbank", "tinkoff"):
        expected = {h.post.url for h in all_hits if company in owners[h.post.url]}
        hits, n = store.search_text("карта", SearchFilters(company=company), limit=1000)
        assert 0 < len(expected) < total, company  # the filter has something to keep and something to drop
        assert {h.post.url for h in hits} == expected, company
        assert n == len(expected), company
        assert all(company in h.post.companies for h in hits), company
    # combined with another filter, and a company nobody wrote about
    since = datetime(2024, 6, 1, tzinfo=timezone.utc)
    recent = {h.post.url for h in all_hits if h.post.published_at is not None and h.post.published_at >= since}
    hits, _ = store.search_text("карта", SearchFilters(company="tinkoff", since=since), limit=1000)
    assert {h.post.url for h in hits} == {u for u in recent if owners[u] == ["tinkoff"]}
    assert store.search_text("карта", SearchFilters(company="ozon"))[1] == 0
    assert dict(store.companies()) == {"gazprombank": 160, "sberbank": 240, "tinkoff": 80}


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


# -- the integrity check shown a damaged store --------------------------------------
#
# Each kind of damage is made by hand (raw SQL, or the Elasticsearch client),
# the way a crash, a hand edit or an old bug would leave it, on a store that is
# otherwise complete: real posts with companies, vectors and incident types.


@pytest.fixture
def complete_sqlite(tmp_path, shared):
    """A real SQLite store with every table filled, and a raw connection to
    its file (foreign keys off, as any other sqlite3 client has them)."""
    import sqlite3

    from indexer.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "damaged.db")
    posts = load_ru_reviews(shared, limit=60)
    store.upsert_posts(posts)
    stored = [store.get_post_by_url(p.url) for p in posts]
    store.set_analysis([(p.id, ["gazprombank", "sberbank"][: 1 + p.id % 2], "ru") for p in stored])
    rnd = np.random.default_rng(3)
    vecs = rnd.normal(size=(len(stored), 16)).astype(np.float32)
    store.set_vectors("m", [(p.id, v / np.linalg.norm(v)) for p, v in zip(stored, vecs)])
    store.replace_incidents(
        [
            Incident(id=1, label_en="Cards", label_ru="Карты", size=30),
            Incident(id=2, label_en="Loans", label_ru="Кредиты"),
        ],
        {p.id: 1 + i % 2 for i, p in enumerate(stored[:40])},
    )
    raw = sqlite3.connect(store.path)
    yield store, [p.id for p in stored], raw
    raw.close()
    store.close()


def _orphan_fulltext_rows(raw, ids):
    raw.execute("INSERT INTO posts_fts (rowid, title, text) VALUES (?, 'карт', 'заказ отмен')", (max(ids) + 100,))
    return "1 full-text rows for unknown posts"


def _unknown_incident(raw, ids):
    raw.executemany("UPDATE posts SET incident_id = 99 WHERE id = ?", [(ids[0],), (ids[-1],)])
    return "2 posts point at an unknown incident type"


def _company_rows_without_a_post(raw, ids):
    gone = max(ids) + 100
    rows = [(gone, "gazprombank"), (gone, "ozon"), (gone + 1, "ozon")]
    raw.executemany("INSERT INTO post_companies (post_id, company) VALUES (?, ?)", rows)
    return "3 company rows without a post"


def _mixed_vector_sizes(raw, ids):
    short = np.ones(15, dtype=np.float32) / np.sqrt(15)  # the others are 16-dimensional
    raw.execute("UPDATE vectors SET vec = ? WHERE model = 'm' AND post_id = ?", (short.tobytes(), ids[5]))
    return "vectors of model m have 2 different dimensions"


_DAMAGE = [_orphan_fulltext_rows, _unknown_incident, _company_rows_without_a_post, _mixed_vector_sizes]


@pytest.mark.parametrize("damage", _DAMAGE, ids=lambda f: f.__name__.strip("_"))
def test_sqlite_check_reports_exactly_the_damage(complete_sqlite, damage):
    store, ids, raw = complete_sqlite
    assert store.check() == []  # complete and clean: nothing to report
    with raw:
        expected = damage(raw, ids)
    assert store.check() == [expected]


def test_check_command_exits_1_and_names_every_damage(complete_sqlite):
    from tests.reliability_helpers import cli

    store, ids, raw = complete_sqlite
    url = f"sqlite:///{store.path}"
    clean = cli("--store", url, "check")
    assert clean.returncode == 0 and clean.stdout.strip() == "60 posts; store is consistent", clean.stdout
    with raw:
        expected = [damage(raw, ids) for damage in _DAMAGE]
    damaged = cli("--store", url, "check")
    assert damaged.returncode == 1, damaged.stdout + damaged.stderr
    lines = damaged.stdout.strip().splitlines()
    assert sorted(lines[:-1]) == sorted(f"problem: {e}" for e in expected)
    assert lines[-1] == "60 posts; 4 problems"


_ES_ONLY = pytest.mark.parametrize("store", ["es"], indirect=True)


@pytest.fixture
def complete_es(store, shared):
    posts = load_ru_reviews(shared, limit=30)
    store.upsert_posts(posts)
    stored = [store.get_post_by_url(p.url) for p in posts]
    store.set_vectors("m", [(p.id, np.ones(16, dtype=np.float32) / 4) for p in stored])
    store.replace_incidents(
        [Incident(id=1, label_en="Cards", label_ru="Карты", size=20)], {p.id: 1 for p in stored[:20]}
    )
    assert store.check() == []
    return store, stored


def _es_edit(store, post_id: int, edit) -> None:
    """Rewrite one post's stored document by hand through the client (the test
    server has no scripting, so: get, change, put back)."""
    (key,) = store._keys([post_id]).values()
    index = store.current_index()
    doc = store.es.get(index=index, id=key)["_source"]
    edit(doc)
    store.es.index(index=index, id=key, document=doc, refresh=True)


@_ES_ONLY
def test_es_check_reports_an_unknown_incident(complete_es):
    store, stored = complete_es
    _es_edit(store, stored[0].id, lambda d: d.update(incident_id=99))
    _es_edit(store, stored[25].id, lambda d: d.update(incident_id=98))
    assert store.check() == ["2 posts point at an unknown incident type"]


@_ES_ONLY
def test_es_check_reports_posts_missing_from_the_full_text_fields(complete_es):
    """The server's counterpart of the full-text rows: stems live inside each
    post's document, so there is no orphan row to make, only a post without them."""
    store, stored = complete_es
    _es_edit(store, stored[3].id, lambda d: d.pop("text_stems"))
    assert store.check() == ["1 posts missing from the full-text fields (title_stems/text_stems)"]


@_ES_ONLY
def test_es_refuses_mixed_vector_sizes(complete_es):
    """Company rows without a post and orphan full-text rows cannot exist on the
    server (both live inside the post's own document); a vector of another
    size is refused by the dense_vector mapping, so the check never meets one."""
    from elasticsearch import BadRequestError

    from indexer.store.es import vector_field

    store, stored = complete_es
    with pytest.raises(RuntimeError, match="dimension|dims"):
        store.set_vectors("m", [(stored[1].id, np.ones(15, dtype=np.float32) / np.sqrt(15))])
    with pytest.raises(BadRequestError, match="dimension|dims"):
        _es_edit(store, stored[2].id, lambda d: d.update({vector_field("m"): [0.5, 0.5, 0.5, 0.5]}))
    assert store.check() == []
    assert store.vectors("m")[1].shape == (30, 16)


def test_set_vectors_refuses_a_second_size(store):
    """Both backends keep one vector size per model: a batch of another size, or
    a mixed batch, is refused and what was stored stays readable."""
    from complaintwatch.models import Post, SiteKind

    posts = [
        Post(
            url=f"https://dims.example/{i}",
            source_site="dims.example",
            site_kind=SiteKind.BLOG,
            title=f"Пост {i}",
            text="Текст про доставку",
        )
        for i in range(3)
    ]
    store.upsert_posts(posts)
    ids = [p.id for p in store.iter_posts()]
    unit = np.ones(8, dtype=np.float32) / np.sqrt(8)
    store.set_vectors("m", [(ids[0], unit)])
    with pytest.raises(RuntimeError, match="dimension|dims"):
        store.set_vectors("m", [(ids[1], np.ones(6, dtype=np.float32) / np.sqrt(6))])
    with pytest.raises(RuntimeError, match="dimension|dims"):
        store.set_vectors("other", [(ids[1], unit), (ids[2], np.ones(4, dtype=np.float32) / 2)])
    got_ids, mat = store.vectors("m")
    assert list(got_ids) == [ids[0]] and mat.shape == (1, 8)


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
