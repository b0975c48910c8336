"""The Elasticsearch backend's pure parts, without a cluster: the request
bodies built from search filters and user queries (indexer/store/es/queries.py),
the aggregation readers, and the Post <-> document mapping on real posts."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from complaintwatch.models import Incident, SavedSearch, SearchFilters
from indexer.query import parse_query
from indexer.store.es import aggregations, documents, queries
from tests.clock import NOW
from tests.corpora import REPO, SHARED, load_cfpb

UTC = timezone.utc
REPLY = {"term": {"is_company_reply": True}}
COMMENT = {"exists": {"field": "parent_url"}}
UNSET = {"bool": {"must_not": [{"exists": {"field": "stance"}}, REPLY]}}


def phrase(q: str) -> dict:
    """What a phrase of index terms matches: the title (boosted) or the text."""
    return {
        "bool": {
            "should": [
                {"match_phrase": {"title_stems": {"query": q, "boost": 2.0}}},
                {"match_phrase": {"text_stems": {"query": q}}},
            ],
            "minimum_should_match": 1,
        }
    }


# -- filters ----------------------------------------------------------------
def test_no_filters_no_clauses():
    assert queries.filter_clauses(None) == ([], [])
    assert queries.filter_clauses(SearchFilters()) == ([], [])


def test_company_site_language_and_dates():
    # a bound in another time zone is sent in UTC; `until` is exclusive
    since = datetime(2026, 1, 1, 3, 0, tzinfo=timezone(timedelta(hours=3)))
    f = SearchFilters(company="sberbank", site="banki.ru", language="ru", since=since, until=NOW, incident_id=7)
    flt, must_not = queries.filter_clauses(f)
    assert flt == [
        {"term": {"companies": "sberbank"}},
        {"term": {"incident_id": 7}},
        {"term": {"source_site": "banki.ru"}},
        {"term": {"language": "ru"}},
        {"range": {"published_at": {"gte": "2026-01-01T00:00:00+00:00", "lt": "2026-03-01T09:30:00+00:00"}}},
    ]
    assert must_not == []


def test_open_ended_date_range():
    flt, _ = queries.filter_clauses(SearchFilters(until=datetime(2025, 6, 1, tzinfo=UTC)))
    assert flt == [{"range": {"published_at": {"lt": "2025-06-01T00:00:00+00:00"}}}]


def test_stance_complaint_counts_posts_not_classified_yet():
    flt, must_not = queries.filter_clauses(SearchFilters(stance="complaint"))
    assert flt == [{"bool": {"should": [{"term": {"stance": "complaint"}}, UNSET], "minimum_should_match": 1}}]
    assert must_not == []
    assert queries.filter_clauses(SearchFilters(stance="praise")) == ([{"term": {"stance": "praise"}}], [])


@pytest.mark.parametrize(
    ("post_type", "flt", "must_not"),
    [
        ("complaint", [], [COMMENT, REPLY]),
        ("comment", [COMMENT], [REPLY]),
        ("company_reply", [REPLY], []),
    ],
)
def test_post_types(post_type, flt, must_not):
    assert queries.filter_clauses(SearchFilters(post_type=post_type)) == (flt, must_not)


def test_comments_left_out():
    f = SearchFilters(include_comments=False, post_type="company_reply")
    assert queries.filter_query(f) == {"bool": {"filter": [REPLY], "must_not": [COMMENT]}}


# -- user queries -------------------------------------------------------------
def test_quoted_phrase_words_and_exclusion():
    pq = parse_query('"credit report" dispute -mortgage')
    body = queries.text_query(pq, SearchFilters(company="equifax", include_comments=False))
    assert body == {
        "bool": {
            "must": [phrase("credit report"), phrase("disput")],
            "filter": [{"term": {"companies": "equifax"}}],
            "must_not": [COMMENT, phrase("mortgag")],
        }
    }


def test_or_group_and_excluded_phrase():
    body = queries.text_query(parse_query('"late fees" OR overdraft -"wire transfer"'))
    assert body == {
        "bool": {
            "must": [{"bool": {"should": [phrase("late fee"), phrase("overdraft")], "minimum_should_match": 1}}],
            "filter": [],
            "must_not": [phrase("wire transfer")],
        }
    }


def test_russian_stems_and_folded_latin():
    body = queries.text_query(parse_query("Ошибки списания café"))
    assert body is not None
    assert body["bool"]["must"] == [phrase("ошибк"), phrase("списан"), phrase("cafe")]


def test_query_that_can_match_nothing():
    assert queries.text_query(parse_query("-mortgage")) is None
    assert queries.text_query(parse_query("")) is None


def test_user_syntax_never_reaches_query_string():
    body = json.dumps(queries.text_query(parse_query('title:x AND (y OR z*) "a" ~2')))
    assert "query_string" not in body and "simple_query_string" not in body


# -- kNN ------------------------------------------------------------------------
def test_knn_with_the_filters_inside_the_knn_clause():
    pq = parse_query('"credit report" dispute -mortgage')
    f = SearchFilters(company="equifax", language="en", post_type="complaint")
    knn = queries.knn_clause("vec_x", np.array([0.6, 0.8], dtype=np.float32), f, 20, pq)
    assert knn == {
        "field": "vec_x",
        "query_vector": [0.6, 0.8],
        "k": 20,
        "num_candidates": 600,
        "filter": {
            "bool": {
                # the quoted phrase is a constraint on vector hits too; the plain word only ranks
                "filter": [
                    {"term": {"companies": "equifax"}},
                    {"term": {"language": "en"}},
                    {"bool": {"should": [phrase("credit report")], "minimum_should_match": 1}},
                ],
                "must_not": [COMMENT, REPLY, phrase("mortgag")],
            }
        },
    }


def test_knn_without_filters_and_candidate_bounds():
    knn = queries.knn_clause("vec_x", np.array([1.0, 0.0]), None, 5, parse_query("fees"))
    assert knn == {"field": "vec_x", "query_vector": [1.0, 0.0], "k": 5, "num_candidates": 150}
    assert queries.knn_clause("vec_x", np.zeros(2), None, 3)["num_candidates"] == 100
    assert queries.knn_clause("vec_x", np.zeros(2), None, 5000)["num_candidates"] == 10_000


# -- facets and aggregations ------------------------------------------------------
def test_a_facet_leaves_out_its_own_filter():
    f = SearchFilters(company="sberbank", site="banki.ru")
    aggs = queries.facets_request(None, f, ["company", "site"])
    assert aggs["company"]["filter"] == {"bool": {"filter": [{"term": {"source_site": "banki.ru"}}], "must_not": []}}
    assert aggs["site"]["filter"] == {"bool": {"filter": [{"term": {"companies": "sberbank"}}], "must_not": []}}
    kinds = {
        "filters": {
            "filters": {
                "complaint": {"bool": {"filter": [], "must_not": [COMMENT, REPLY]}},
                "comment": {"bool": {"filter": [COMMENT], "must_not": [REPLY]}},
                "company_reply": {"bool": {"filter": [REPLY], "must_not": []}},
            }
        }
    }
    assert aggs["company"]["aggs"] == {"v": {"terms": {"field": "companies", "size": 10_000}, "aggs": {"k": kinds}}}


def test_facet_text_query_and_extra_ids():
    text = {"match_none": {}}
    aggs = queries.facets_request(text, None, ["lang"], also={"lang": [3, 1]})
    assert aggs["lang"]["filter"] == {
        "bool": {
            "should": [{"bool": {"filter": [text], "must_not": []}}, {"terms": {"id": [3, 1]}}],
            "minimum_should_match": 1,
        }
    }
    with pytest.raises(ValueError):
        queries.facet_aggs("colour")


def test_facet_response_read_per_post_type():
    def kinds(c, m, r):
        return {
            "buckets": {"complaint": {"doc_count": c}, "comment": {"doc_count": m}, "company_reply": {"doc_count": r}}
        }

    response = {
        "incident": {"v": {"buckets": [{"key": 4, "k": kinds(2, 1, 0)}, {"key": 9, "k": kinds(0, 0, 1)}]}},
        "stance": {"v": {"buckets": [{"key": "praise", "k": kinds(1, 0, 0)}]}, "unset": {"k": kinds(5, 2, 0)}},
    }
    out = aggregations.facet_counts(response, ["incident", "stance"])
    by_incident = {fc.value: (fc.complaints, fc.comments, fc.company_replies) for fc in out["incident"]}
    assert by_incident == {4: (2, 1, 0), 9: (0, 0, 1)}
    by_stance = {fc.value: (fc.complaints, fc.comments, fc.company_replies) for fc in out["stance"]}
    assert by_stance == {"complaint": (5, 2, 0), "praise": (1, 0, 0)}


def test_incident_stats_read():
    jan, feb = datetime(2025, 1, 5, tzinfo=UTC), datetime(2025, 2, 20, tzinfo=UTC)
    bucket = {
        "key": 3,
        "stories": {"value": 2},
        "first": {"value": jan.timestamp() * 1000},
        "last": {"value": feb.timestamp() * 1000},
        "monthly": {"buckets": [{"key_as_string": "2025-01", "stories": {"value": 1}}]},
    }
    small = {
        "key": 1,
        "stories": {"value": 1},
        "first": {"value": None},
        "last": {"value": None},
        "monthly": {"buckets": []},
    }
    (a, b) = aggregations.incident_stats("acme", {"incident": {"buckets": [small, bucket]}})
    assert (a.incident_id, a.count, a.first_seen, a.last_seen, a.monthly) == (3, 2, jan, feb, {"2025-01": 1})
    assert (b.incident_id, b.first_seen) == (1, None)


# -- documents ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def cfpb():
    if not (SHARED / "data").is_dir():
        pytest.skip("../shared/data is not here")
    return load_cfpb(SHARED, limit=20)


def test_post_round_trip_on_real_posts(cfpb):
    for pid, post in enumerate(cfpb, start=1):
        post.fetched_at = NOW - timedelta(days=pid)
        doc = json.loads(json.dumps(documents.post_doc(post, pid, None, seq=100 + pid, updated_at=0)))
        assert {k for k in doc if k not in documents.POST_SOURCE} == {
            "title_stems",
            "text_stems",
            "change_seq",
            "updated_at",
        }
        assert doc["change_seq"] == 100 + pid and doc["stance"] is None
        assert doc["text_stems"] == documents.stems_field(post.text) and doc["text_stems"]
        back = documents.post_from_source({k: doc[k] for k in documents.POST_SOURCE})
        post.id = pid
        assert back == post


def test_stems_are_the_index_terms(cfpb):
    text = cfpb[0].text
    terms = documents.stems_field(text).split()
    assert terms and all(" " not in t and "_" not in t for t in terms)
    # the document's stems are what a query for the same words looks for
    first = parse_query(text.split()[0]).must[0]
    assert documents.index_terms(first)[0] in terms


def test_latin_diacritics_folded_like_fts5_cyrillic_kept():
    assert documents.fold("naïve") == "naive"
    assert documents.fold("crème") == "creme"
    assert documents.fold("йогурт") == "йогурт"  # й is not a Latin letter with a mark
    assert documents.index_terms(["debit_card"]) == ["debit", "card"]


def test_keys_and_fields_are_stable():
    url = "https://www.consumerfinance.gov/complaint/1"
    assert documents.doc_key(url) == "833f6c12f526f7ef257a3496b9b48a36d518dcc9"
    field = documents.vector_field("sentence-transformers/all-MiniLM-L6-v2")
    assert field.startswith("vec_sentence_transformers_all_minilm_l6_v2_") and len(field.rsplit("_", 1)[1]) == 8
    assert documents.vector_field("a") != documents.vector_field("A")


def test_incident_and_saved_search_round_trip():
    inc = Incident(7, "Card blocked", "Блокировка карты", ["block", "card"], 12, "card_block", [5, 9])
    assert documents.incident_from_source(json.loads(json.dumps(documents.incident_doc(inc)))) == inc
    assert set(documents.incident_doc(inc, labels_only=True)) == {
        "label_en",
        "label_ru",
        "keywords",
        "size",
        "representatives",
    }
    saved = SavedSearch(id=3, name="fees", kind="search", params={"q": "fee"}, created_at=NOW, last_seen_at=None)
    assert documents.saved_from_source(json.loads(json.dumps(documents.saved_doc(saved)))) == saved


def test_pure_modules_need_no_client():
    """The package imports without the elasticsearch client (an optional extra)."""
    code = (
        "import sys; import indexer.store.es; from indexer.store.es import queries, documents; "
        "assert 'elasticsearch' not in sys.modules, 'imported the client'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
