"""The company page compares a company with its industry (issue 13): per incident type, its
complaints per 100 of its complaints against the same over the other companies of its
industry (the company table's industries), the industry named; with too few other
companies, or no industry known, the page says so. Page, API and the store method, on
both store backends.

Real sravni.ru bank reviews (tests/corpora.py); which bank's review is which complaint,
comment or reply, and its incident type, is arranged below, and every figure is counted
by hand from that arrangement."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import timedelta

import pytest

from complaintwatch.models import Incident, Post
from tests.clock import NOW
from tests.corpora import load_sravni_stars
from web import create_app

CARD, DEPOSIT, FEES = 1, 2, 3

# name: (company, stars of the review used, parent, company reply, incident, stance)
ARRANGED = {
    # sberbank: 5 complaints, CARD 3 (60 per 100), DEPOSIT 1 (20 per 100), one untyped; in s1's
    # thread a customer's comment and the bank's reply, neither a complaint
    "s1": ("sberbank", 1, None, False, CARD, "complaint"),
    "s2": ("sberbank", 1, None, False, CARD, "complaint"),
    "s3": ("sberbank", 1, None, False, CARD, None),  # not classified yet: a complaint
    "s4": ("sberbank", 2, None, False, DEPOSIT, "complaint"),
    "s5": ("sberbank", 1, None, False, None, "complaint"),
    "s1c": ("sberbank", 1, "s1", False, CARD, "complaint"),
    "s1r": ("sberbank", 1, "s1", True, None, None),
    # the rest of banking: 10 complaints (v1 and its copy are one story); CARD t1 v1 = 2,
    # DEPOSIT t2 t3 k1 = 3
    "t1": ("tinkoff", 1, None, False, CARD, "complaint"),
    "t2": ("tinkoff", 1, None, False, DEPOSIT, "complaint"),
    "t3": ("tinkoff", 2, None, False, DEPOSIT, "complaint"),
    "t4": ("tinkoff", 1, None, False, None, "complaint"),
    "t1c": ("tinkoff", 1, "t1", False, CARD, "complaint"),  # a comment: no complaint of the industry
    "v1": ("vtb", 1, None, False, CARD, "complaint"),
    "v2": ("vtb", 1, None, False, FEES, "complaint"),
    "v3": ("vtb", 1, None, False, None, "complaint"),
    "k1": ("sovcombank", 1, None, False, DEPOSIT, "complaint"),
    "k2": ("sovcombank", 2, None, False, None, "complaint"),
    "k3": ("sovcombank", 1, None, False, None, "complaint"),
    "k4": ("sovcombank", 5, None, False, CARD, "praise"),  # praise: no complaint
    "m1c": ("mts_bank", 1, "t2", False, CARD, "complaint"),  # mts_bank: only a comment, no peer
    # not banking: ozon's complaints never count for banks
    "o1": ("ozon", 1, None, False, CARD, "complaint"),
    "o2": ("ozon", 1, None, False, CARD, "complaint"),
    # telecom: megafon has one other telecom company with complaints, mts: too few to compare
    "g1": ("megafon", 1, None, False, CARD, "complaint"),
    "g2": ("megafon", 1, None, False, FEES, "complaint"),
    "n1": ("mts", 1, None, False, CARD, "complaint"),
    # a company the table does not know: no industry
    "x1": ("korobka", 1, None, False, CARD, "complaint"),
}
COPY = "https://www.banki.ru/services/responses/copy-of-v1"  # v1's story on another site


def arranged() -> tuple[list[Post], dict[str, str]]:
    """The posts, and the URL of each arranged name."""
    by_bank: dict[tuple[str, int], list[Post]] = defaultdict(list)
    for p in load_sravni_stars():
        by_bank[(p.companies[0], p.rating)].append(p)
    # a bank's own reviews where the file has them; the other companies borrow MTS Bank's 1-star ones
    source = {c: c for c in ("sberbank", "tinkoff", "vtb", "sovcombank", "mts_bank")}
    used: dict[tuple[str, int], int] = defaultdict(int)
    posts, urls = [], {}
    for i, (name, (company, stars, parent, reply, _, _)) in enumerate(ARRANGED.items()):
        key = (source.get(company, "mts_bank"), stars)
        real = by_bank[key][used[key]]
        used[key] += 1
        root = urls[parent] if parent else None
        urls[name] = f"{root}#{name}" if root else real.url
        posts.append(
            Post(
                url=urls[name],
                source_site="sravni.ru",
                site_kind=real.site_kind,
                title="",
                text=real.text,
                language="ru",
                companies=[company],
                parent_url=root,
                thread_url=root or urls[name],
                position=1 if parent else 0,
                is_company_reply=reply,
                published_at=NOW - timedelta(days=40 - i),
            )
        )
    v1 = next(p for p in posts if p.url == urls["v1"])
    posts.append(v1.with_(url=COPY, thread_url=COPY, source_site="banki.ru", id=None))
    urls["v1copy"] = COPY
    return posts, urls


def fill(store) -> dict[str, int]:
    posts, urls = arranged()
    store.upsert_posts(posts)
    ids = {name: store.get_post_by_url(u).id for name, u in urls.items()}
    stance = {**{n: a[5] for n, a in ARRANGED.items()}, "v1copy": "complaint"}
    store.set_stance([(ids[n], s) for n, s in stance.items() if s])
    incident = {**{n: a[4] for n, a in ARRANGED.items()}, "v1copy": CARD}
    types = [Incident(CARD, "Card blocked", "Блокировка карты"), Incident(DEPOSIT, "Deposit", "Вклад")]
    types.append(Incident(FEES, "Hidden fees", "Скрытые комиссии"))
    store.replace_incidents(types, {ids[n]: iid for n, iid in incident.items() if iid is not None})
    return ids


@pytest.fixture
def client(store):
    fill(store)
    return create_app(store, None, {"TESTING": True}).test_client(), store


def test_store_counts_an_industrys_complaints_per_type(client):
    _, store = client
    assert store.complaint_incident_counts(["tinkoff", "vtb", "sovcombank"]) == (10, {CARD: 2, DEPOSIT: 3, FEES: 1})
    assert store.complaint_incident_counts(["sberbank"]) == (5, {CARD: 3, DEPOSIT: 1})
    assert store.complaint_incident_counts(["mts_bank"]) == (0, {})  # a comment only
    assert store.complaint_incident_counts([]) == (0, {})


def test_api_company_against_its_industry(client):
    c, _ = client
    data = c.get("/api/v1/company/sberbank").get_json()
    assert data["industry"] == {
        "id": "banking",
        "name": "Banking",
        "peers": [
            {"id": "sovcombank", "name": "Совкомбанк"},
            {"id": "tinkoff", "name": "Т-Банк"},
            {"id": "vtb", "name": "ВТБ"},
        ],
        "complaints": 10,
        "comparable": True,
        "min_peers": 3,
        "note": "Compared with 3 other Banking companies (10 complaints).",
    }
    rows = {r["incident_id"]: r for r in data["recurring_failures"]}
    assert set(rows) == {CARD, DEPOSIT}
    assert (rows[CARD]["count"], rows[CARD]["per_100"], rows[CARD]["industry_per_100"]) == (3, 60.0, 20.0)
    assert (rows[CARD]["share"], rows[CARD]["industry_share"]) == (0.6, 0.2)
    assert (rows[DEPOSIT]["count"], rows[DEPOSIT]["per_100"], rows[DEPOSIT]["industry_per_100"]) == (1, 20.0, 30.0)


def test_api_too_few_peers_or_no_industry(client):
    c, _ = client
    tel = c.get("/api/v1/company/megafon").get_json()
    assert tel["industry"]["id"] == "telecom" and tel["industry"]["comparable"] is False
    assert [p["id"] for p in tel["industry"]["peers"]] == ["mts"]
    assert (
        tel["industry"]["note"]
        == "Too few other Telecoms companies with complaints to compare with (1; at least 3 needed)."
    )
    rows = {r["incident_id"]: r for r in tel["recurring_failures"]}
    assert (rows[CARD]["per_100"], rows[CARD]["industry_per_100"]) == (50.0, None)
    unknown = c.get("/api/v1/company/korobka").get_json()["industry"]
    assert (unknown["id"], unknown["comparable"], unknown["peers"]) == (None, False, [])
    assert "industry is not known" in unknown["note"]


def test_company_page_names_the_industry_and_its_figures(client):
    c, _ = client
    html = c.get("/company/sberbank").get_data(as_text=True)
    assert re.search(r'<h2 id="industry">Compared with its industry: Banking</h2>', html)
    table = re.search(r'<table class="data industry">(.*?)</table>', html, re.S).group(1)
    cells = [
        (int(iid), re.sub(r"\s+", " ", ours).strip(), re.sub(r"\s+", " ", theirs).strip())
        for iid, ours, theirs in re.findall(
            r'<tr data-incident-id="(\d+)">.*?class="num per-100">(.*?)</td>.*?class="num industry-per-100">(.*?)</td>',
            table,
            re.S,
        )
    ]
    assert cells == [(CARD, "60 per 100 complaints", "Banking 20"), (DEPOSIT, "20 per 100 complaints", "Banking 30")]
    few = c.get("/company/megafon").get_data(as_text=True)
    assert "Too few other Telecoms companies with complaints to compare with (1; at least 3 needed)." in few
    assert '<table class="data industry">' not in few


# -- in Chromium, from the companies list, at phone and laptop width ---------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from indexer.store.sqlite import SQLiteStore
    from tests.browser_helpers import ServerThread

    store = SQLiteStore(tmp_path_factory.mktemp("industry") / "i.db")
    fill(store)
    with ServerThread(create_app(store, None)) as srv:
        yield srv
    store.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", (390, 1366))
def test_reader_compares_a_bank_with_its_industry(browser, site, width):
    ctx = browser.new_context(viewport={"width": width, "height": 844 if width < 600 else 900})
    page = ctx.new_page()
    try:
        page.goto(site.url + "/companies")
        with page.expect_navigation():
            page.get_by_role("link", name="Сбербанк", exact=True).first.click()
        assert page.url.endswith("/company/sberbank")
        section = page.locator("#industry")
        section.scroll_into_view_if_needed()
        assert section.inner_text() == "Compared with its industry: Banking"
        assert page.locator("#industry-note").inner_text() == "Compared with 3 other Banking companies (10 complaints)."
        rows = page.locator("table.industry tbody tr")
        got = [
            (
                rows.nth(i).locator("td").nth(0).inner_text(),
                rows.nth(i).locator(".per-100").inner_text(),
                rows.nth(i).locator(".industry-per-100").inner_text(),
            )
            for i in range(rows.count())
        ]
        assert got == [
            ("Card blocked", "60 per 100 complaints", "Banking 20"),
            ("Deposit", "20 per 100 complaints", "Banking 30"),
        ]
        # every column reachable: on screen, or by scrolling the table inside its wrapper
        wrapper = page.locator("table.industry").locator("xpath=..")
        wrapper.evaluate("el => el.scrollTo(el.scrollWidth, 0)")
        last = page.locator("table.industry thead th").last
        box, wbox = last.bounding_box(), wrapper.bounding_box()
        assert box["x"] >= wbox["x"] - 1 and box["x"] + box["width"] <= wbox["x"] + wbox["width"] + 1
        sw, iw = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert sw <= iw, f"the page scrolls sideways at {width}px"
        # the telecom company: the reader is told why there is no comparison
        page.goto(site.url + "/company/megafon")
        assert "Too few other Telecoms companies" in page.locator("#industry-note").inner_text()
    finally:
        ctx.close()
