"""Complaints, comments and company replies are counted apart (issue 13): a
complaint is an opening post or review by a customer; a comment is a reply by
a customer; the company's own replies are never complaints. On both store
backends, and everywhere the web shows a company: the companies list (ranked
by complaints), the company page, the search facets, compare and the API."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from complaintwatch.models import Post, SiteKind
from indexer.store import open_store
from tests.test_store_queries import threads
from web import create_app

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_store_counts_complaints_comments_and_company_replies_apart(store):
    """threads(): acme has 6 opening posts (e's second page has no parent: an
    opening post too), 1 customer comment (a#1) and 3 replies of its own (a#2,
    d#1, z#1; z#1 in globex's thread); globex 2 opening posts; initech 1."""
    posts = threads()
    store.upsert_posts(posts)
    got = [(c.company, c.complaints, c.comments, c.company_replies) for c in store.company_counts()]
    assert got == [("acme", 6, 1, 3), ("globex", 2, 0, 0), ("initech", 1, 0, 0)]
    # the same as the per-post definition, and every post of a company in exactly one of the three
    assert {c.company: c.posts for c in store.company_counts()} == dict(store.companies())


def test_store_ranks_by_complaints_not_posts(store):
    """A shop with few complaints and many comments (its own replies among them)
    ranks below one with more complaints and no comments."""
    posts = []
    for i in range(2):  # chatty: 2 complaints, each with 4 comments and 2 company replies
        root = f"https://forum.test/chatty/{i}"
        posts.append(_p(root, ["chatty"]))
        posts += [_p(f"{root}#c{j}", ["chatty"], parent=root, pos=j + 1) for j in range(4)]
        posts += [_p(f"{root}#r{j}", ["chatty"], parent=root, pos=j + 5, reply=True) for j in range(2)]
    # the company opening threads of its own (announcements, answers to reviews): replies, not complaints
    posts += [_p(f"https://forum.test/chatty/news/{i}", ["chatty"], reply=True) for i in range(2)]
    posts += [_p(f"https://forum.test/quiet/{i}", ["quiet"]) for i in range(3)]
    store.upsert_posts(posts)
    assert dict(store.companies()) == {"chatty": 16, "quiet": 3}  # by posts, chatty would lead
    got = [(c.company, c.complaints, c.comments, c.company_replies) for c in store.company_counts()]
    assert got == [("quiet", 3, 0, 0), ("chatty", 2, 8, 6)]


def test_store_keeps_company_display_names(store):
    assert store.company_names() == {}
    store.set_company_names({"onemain-finance-corporation": "OneMain Financial", "acme": "Acme"})
    store.set_company_names({"acme": "ACME Corp.", "globex": "Globex Corporation"})  # added to, not replaced
    assert store.company_names() == {
        "onemain-finance-corporation": "OneMain Financial",
        "acme": "ACME Corp.",
        "globex": "Globex Corporation",
    }


def _p(url, companies, *, parent=None, pos=0, reply=False, days=0, title=None):
    return Post(
        url=url,
        source_site="forum.test",
        site_kind=SiteKind.FORUM,
        title=title if title is not None else ("" if parent else f"Topic {url.rsplit('/', 1)[-1]}"),
        text=f"Post {url}: the parcel never arrived",
        companies=list(companies),
        parent_url=parent,
        thread_url=parent or url,
        position=pos,
        is_company_reply=reply,
        language="en",
        published_at=T0 + timedelta(days=days),
    )


def shop_posts() -> list[Post]:
    """korobka: 5 complaints, 9 customer comments, 4 posts of its own (one an
    opening post, one in a thread of another shop); pochta: 6 complaints."""
    posts = []
    for i in range(5):
        root = f"https://forum.test/korobka/{i}"
        posts.append(_p(root, ["korobka"], days=i))
        n = 2 if i < 4 else 1
        posts += [_p(f"{root}#c{j}", ["korobka"], parent=root, pos=j + 1, days=i) for j in range(n)]
    for i in range(2):
        root = f"https://forum.test/korobka/{i}"
        posts.append(_p(f"{root}#official", ["korobka"], parent=root, pos=9, reply=True, days=i + 1))
    # korobka's own opening post (an announcement): a company reply too, never a complaint
    posts.append(_p("https://forum.test/korobka/news", ["korobka"], reply=True, days=3))
    posts += [_p(f"https://forum.test/pochta/{i}", ["pochta"], days=i) for i in range(6)]
    other = "https://forum.test/pochta/0"
    posts.append(_p(f"{other}#korobka", ["korobka", "pochta"], parent=other, pos=3, reply=True, days=2))
    return posts


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    store = open_store(tmp_path_factory.mktemp("counts") / "cw.db")
    store.upsert_posts(shop_posts())
    app = create_app(store, None, {"TESTING": True, "COMPANY_NAMES": {"korobka": "Коробка", "pochta": "Почта"}})
    yield app.test_client()
    store.close()


def _text(html: str) -> str:
    """What a reader sees: tags gone, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_companies_list_ranks_by_complaints_and_shows_the_three_counts(client):
    html = client.get("/companies").get_data(as_text=True)
    rows = re.findall(r'<tr data-company="([^"]+)">(.*?)</tr>', html, re.S)
    assert [c for c, _ in rows] == ["pochta", "korobka"]  # korobka has more posts (18 vs 7), fewer complaints
    cells = {c: re.findall(r'<td class="num ([\w-]+)">(\d+)</td>', row) for c, row in rows}
    assert cells["korobka"] == [("complaints", "5"), ("comments", "9"), ("company-replies", "4")]
    # pochta: 6 complaints; korobka's reply in pochta's thread names both: a company reply, never a complaint
    assert cells["pochta"] == [("complaints", "6"), ("comments", "0"), ("company-replies", "1")]


def test_company_page_shows_complaints_comments_and_replies_apart(client):
    html = client.get("/company/korobka").get_data(as_text=True)
    head = _text(re.search(r'<p class="muted" id="company-counts">(.*?)</p>', html, re.S).group(1))
    assert head.startswith("5 complaints · 9 comments · 4 company replies")
    assert "18 posts" not in _text(html)


def test_api_counts_company_replies_never_as_complaints(client):
    body = client.get("/api/v1/companies").get_json()
    got = {c["id"]: (c["complaints"], c["comments"], c["company_replies"], c["posts"]) for c in body["companies"]}
    assert got == {"korobka": (5, 9, 4, 18), "pochta": (6, 0, 1, 7)}
    assert [c["id"] for c in body["companies"]] == ["pochta", "korobka"]
    one = client.get("/api/v1/company/korobka").get_json()
    assert (one["complaints"], one["comments"], one["company_replies"]) == (5, 9, 4)
    both = client.get("/api/v1/compare", query_string=[("c", "korobka"), ("c", "pochta")]).get_json()
    assert {c["id"]: c["complaints"] for c in both["companies"]} == {"korobka": 5, "pochta": 6}


def test_search_facet_counts_complaints_apart(client):
    html = client.get("/search").get_data(as_text=True)
    options = dict(re.findall(r'<option value="(korobka|pochta)"\s*>([^<]*)</option>', html))
    assert options["korobka"] == "Коробка (5 complaints, 9 comments, 4 company replies)"
    assert options["pochta"] == "Почта (6 complaints, 0 comments, 1 company reply)"
    # in that order: most complaints first
    assert html.index('value="pochta"') < html.index('value="korobka"')


def test_compare_page_counts_apart(client):
    html = client.get("/compare", query_string=[("c", "korobka"), ("c", "pochta")]).get_data(as_text=True)
    for kind, want in (("complaints", ["5", "6"]), ("comments", ["9", "0"]), ("company-replies", ["4", "1"])):
        row = re.search(rf'<tr class="totals {kind}">(.*?)</tr>', html, re.S).group(1)
        assert re.findall(r'<td class="num">(\d+)</td>', row) == want


@pytest.mark.browser
def test_reader_sees_counts_apart_in_chromium(tmp_path):
    """In a real browser at phone width: the companies list ranks by complaints
    and shows the three counts; clicking through, the company page says them
    and the date its trends are as of."""
    from tests.browser_helpers import ServerThread, chromium

    store = open_store(tmp_path / "cw.db")
    store.upsert_posts(shop_posts())
    config = {"COMPANY_NAMES": {"korobka": "Коробка", "pochta": "Почта"}, "AS_OF": T0.date()}
    try:
        with ServerThread(create_app(store, None, config)) as srv, chromium() as browser:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(srv.url + "/companies")
            rows = page.locator("table.data tbody tr")
            assert rows.nth(0).locator("td").nth(1).inner_text().strip() == "Почта"
            cells = [c.strip() for c in rows.nth(1).locator("td.num").all_inner_texts()]
            assert cells == ["5", "9", "4"]
            heads = [h.strip().lower() for h in page.locator("table.data thead th.num").all_inner_texts()]
            assert heads == ["complaints", "comments", "company replies"]  # shown in capitals by the CSS
            page.get_by_role("link", name="Коробка").click()
            page.wait_for_url("**/company/korobka")
            counts = " ".join(page.locator("#company-counts").inner_text().split())
            assert counts.startswith("5 complaints · 9 comments · 4 company replies")
            assert "Trends as of 2024-03-01" in page.locator("#as-of").inner_text()
    finally:
        store.close()
