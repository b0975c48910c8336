"""Hostile web input, on top of tests/test_web_app.py: every GET route swept
with script-injecting values, query-syntax injection, oversized query strings
and page numbers over real HTTP, path traversal, and the "also posted at"
list of a story found on several sites."""

from __future__ import annotations

import http.client
import re
from datetime import datetime, timezone
from urllib.parse import quote, urlencode

import pytest

from complaintwatch.models import Incident, Post, SiteKind
from indexer.store import open_store
from tests.browser_helpers import ServerThread
from web import create_app

XSS = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
SVG = "</textarea><svg/onload=alert(3)>"
PAYLOADS = [XSS, IMG, SVG, "javascript:alert(4)", "{{7*7}}", "${7*7}"]
RAW = ["<script>alert(1)", "<img src=x", "<svg/onload", 'href="javascript:']
STORY = (
    "Ozon отменил мой заказ без объяснений, деньги вернули через месяц. "
    "Поддержка три недели отвечала шаблонами, а потом закрыла обращение."
)


def _post(url: str, site: str, title: str, text: str, author: str | None = None, **kw) -> Post:
    return Post(
        url=url,
        source_site=site,
        site_kind=SiteKind.FORUM,
        title=title,
        text=text,
        author=author,
        published_at=datetime(2024, 3, 5, tzinfo=timezone.utc),
        **kw,
    )


def _fill_hostile(store) -> list[Post]:
    posts = [
        _post("https://forum.example/t/1", "forum.example", f"Отменили заказ {IMG}", f"{STORY} {XSS} {SVG}", XSS),
        # the same story on two more sites: one with a hostile site name and a script URL
        _post("https://otzovik.example/review/9", "otzovik.example", f"Отменили заказ {IMG}", f"{STORY} {XSS} {SVG}"),
        _post("javascript:alert(5)//x", f"evil.example{IMG}", f"Отменили заказ {IMG}", f"{STORY} {XSS} {SVG}"),
        _post("https://forum.example/t/1#c1", "forum.example", "", f"Комментарий {SVG}", IMG, parent_url=None),
        _post("https://blog.example/2024/refund", "blog.example", "Refund refused", "Skyjet refused my refund.", "Bob"),
    ]
    store.upsert_posts(posts)
    store.set_analysis([(p.id, ["ozon"], "ru") for p in posts[:4]] + [(posts[4].id, ["skyjet"], "en")])
    store.replace_incidents(
        [Incident(1, f"Order cancelled {XSS}", f"Отмена {IMG}", [XSS, "заказ"], size=4, taxonomy_key=None)],
        {p.id: 1 for p in posts[:4]},
    )
    return posts


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    store = open_store(tmp_path_factory.mktemp("hostile") / "h.db")
    posts = _fill_hostile(store)
    yield store, posts
    store.close()


@pytest.fixture(scope="module")
def app(hostile):
    store, _ = hostile
    return create_app(store, None, {"TESTING": True, "COMPANY_NAMES": {"ozon": f"OZON {XSS}"}})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def _assert_safe(resp, where):
    assert resp.status_code < 500, (where, resp.status_code, resp.data[:300])
    body = resp.get_data(as_text=True)
    if resp.mimetype in ("text/html", "application/atom+xml", "image/svg+xml"):
        for raw in RAW:
            assert raw not in body, (where, raw)
    else:  # data for scripts: never something a browser renders as a page
        assert resp.mimetype in ("application/json", "text/csv", "text/css", "text/javascript", "text/plain"), where
    assert resp.headers["X-Content-Type-Options"] == "nosniff", where


def _fill(rule, args: dict) -> str | None:
    try:
        return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(args[m.group(1)]), rule.rule)
    except KeyError:
        return None


def test_every_get_route_escapes_hostile_input(app, client, hostile):
    """All GET routes (the other blueprints' included), with hostile path
    values and every query parameter the app knows set to each payload."""
    _, posts = hostile
    params = ["q", "company", "site", "lang", "from", "to", "sort", "page", "per_page", "incident", "name", "kind"]
    fills = [{"company_id": "ozon", "post_id": posts[0].id, "incident_id": 1, "alert_id": 1, "filename": "style.css"}]
    fills += [
        {"company_id": p, "post_id": 10**30, "incident_id": 10**30, "alert_id": 10**30, "filename": "../" + p}
        for p in (XSS, IMG, "../../../etc/passwd")
    ]
    swept = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        for args in fills:
            path = _fill(rule, args)
            if path is None:
                continue
            url = quote(path, safe="/")
            _assert_safe(client.get(url), url)
            for payload in PAYLOADS:
                qs = urlencode({p: payload for p in params})
                _assert_safe(client.get(f"{url}?{qs}"), (url, payload))
                swept += 1
    assert swept > 150


def test_stored_hostile_text_is_shown_escaped(client, hostile):
    _, posts = hostile
    html = client.get(f"/post/{posts[0].id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text, not dropped
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in html or "&quot;&gt;&lt;img" in html
    assert "&lt;/textarea&gt;&lt;svg/onload=alert(3)&gt;" in html


# Each query with the hostile corpus's posts it must match: its words, as plain
# text. The three copies of the story hold "заказ" and "1" (from "alert(1)");
# no operator may widen that, or match the field names of either backend.
_STORY_COPIES = frozenset({0, 1, 2})
INJECTIONS = {
    "*": frozenset(),
    "title:*": frozenset(),
    '{"match_all": {}}': frozenset(),
    '" OR ""="': frozenset(),
    "NEAR(заказ отменил)": frozenset(),
    "заказ* OR *": _STORY_COPIES,
    "_exists_:text": frozenset(),
    "text_stems:/.*/": frozenset(),
    "^1 OR 1=1; --": _STORY_COPIES,
    "\\": frozenset(),
    "заказ OR title:*": _STORY_COPIES,
    "refund -*": frozenset({4}),
    'refund "*" OR _id:*': frozenset({4}),
    "title_stems:заказ": frozenset(),
}


@pytest.fixture
def hostile_store(store):
    """The hostile corpus in a fresh store of each backend (SQLite and Elasticsearch)."""
    return store, _fill_hostile(store)


def test_query_syntax_injection_matches_nothing_extra(hostile_store):
    """Operators of FTS5 or of the Elasticsearch query DSL are plain text:
    each query finds exactly the posts its words find, on both backends,
    in the store and through the JSON API."""
    store, posts = hostile_store
    client = create_app(store, None, {"TESTING": True}).test_client()
    wrong = {}
    for q, expected in INJECTIONS.items():
        want = {posts[i].url for i in expected}
        hits, total = store.search_text(q, limit=100)
        body = client.get("/api/v1/search", query_string={"q": q, "per_page": 100}).get_json()
        api = {r["post"]["url"] for r in body["results"]}
        if {h.post.url for h in hits} != want or total != len(want) or api != want or body["total"] != len(want):
            wrong[q] = (sorted(want), sorted(h.post.url for h in hits), total, sorted(api), body["total"])
    assert not wrong, wrong


# -- over real HTTP -------------------------------------------------------------


@pytest.fixture(scope="module")
def server(app):
    with ServerThread(app) as srv:
        yield srv


def _get(server, path: str, with_location: bool = False):
    """GET the raw path (no client-side normalisation)."""
    host, port = server.url.rsplit("/", 1)[-1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        out = (resp.status, resp.read())
        return (*out, resp.getheader("Location")) if with_location else out
    finally:
        conn.close()


def test_oversized_query_strings_and_page_numbers(server):
    huge = "заказ " * 20_000  # ~240 kB in the URL
    status, _ = _get(server, "/search?" + urlencode({"q": huge}))
    assert status in (200, 414)
    status, body = _get(server, "/search?" + urlencode({"q": "заказ " * 1500}))  # ~27 kB: served, cut to 500 chars
    assert status == 200 and b'data-post-id="' in body
    for page in ("9" * 5000, "-" + "9" * 40, "1e308", "NaN", "０１"):
        status, _ = _get(server, "/search?" + urlencode({"q": "заказ", "page": page}))
        assert status == 200, page
        status, _ = _get(server, "/api/v1/search?" + urlencode({"q": "заказ", "page": page}))
        assert status in (200, 400), page
    status, _ = _get(server, "/search?" + "&".join(["q=%D0%B7%D0%B0%D0%BA%D0%B0%D0%B7"] * 1500))
    assert status == 200
    status, _ = _get(server, "/api/v1/search?per_page=" + "9" * 100)
    assert status == 400
    assert _get(server, "/")[0] == 200  # and the server still answers


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%5c..%5cweb%5c__init__.py",
        "/static/%2e%2e/__init__.py",
        "/static//etc/passwd",
        "/export.csv/../../etc/passwd",
        "/export.csv%2f..%2f..%2fetc%2fpasswd",
        "/export.json%00.csv",
        "/..%2f..%2fetc%2fpasswd",
        "//etc/passwd",
    ],
)
def test_path_traversal_never_leaves_the_app(server, path):
    status, body, location = _get(server, path, with_location=True)
    if status == 308:  # werkzeug merges duplicate slashes: follow it, still inside the app
        assert location and ".." not in location and location.startswith(("/", server.url)), location
        status, body = _get(server, location.removeprefix(server.url))
    assert status in (400, 404), (path, status)
    assert b"root:" not in body and b"create_app" not in body and b"import " not in body


def test_export_name_ignores_hostile_parameters(client):
    for q in ("../../etc/passwd", 'x"; filename="evil.sh', "a\r\nSet-Cookie: x=1", XSS):
        for fmt in ("csv", "json"):
            r = client.get(f"/export.{fmt}", query_string={"q": q, "site": q, "filename": q})
            assert r.status_code == 200
            name = r.headers["Content-Disposition"]
            assert re.fullmatch(r'attachment; filename="complaintwatch-search-\d{8}\.' + fmt + '"', name), name
            assert "Set-Cookie" not in r.headers


# -- one story, several sources ------------------------------------------------------


def test_post_page_and_api_list_the_other_sources(client, hostile):
    _, posts = hostile
    first, copy, js_copy = posts[:3]
    html = client.get(f"/post/{first.id}").get_data(as_text=True)
    assert "Also posted at:" in html
    assert f'href="/post/{copy.id}"' in html and 'href="https://otzovik.example/review/9"' in html
    assert f'href="/post/{js_copy.id}"' in html and 'href="javascript' not in html
    assert "evil.example&#34;&gt;&lt;img" in html or "evil.example&quot;&gt;&lt;img" in html
    body = client.get(f"/api/v1/post/{copy.id}").get_json()
    assert [o["id"] for o in body["also_posted_at"]] == [first.id, js_copy.id]
    assert body["also_posted_at"][0]["links"]["html"] == f"/post/{first.id}"
    # a post with no copies says nothing about it
    assert "Also posted at" not in client.get(f"/post/{posts[4].id}").get_data(as_text=True)
    assert client.get(f"/api/v1/post/{posts[4].id}").get_json()["also_posted_at"] == []


def test_company_stats_count_a_story_once(client):
    rows = client.get("/api/v1/company/ozon").get_json()["recurring_failures"]
    # three copies of one story and one distinct comment-less post: two stories
    assert rows[0]["incident_id"] == 1 and rows[0]["count"] == 2
    assert sum(rows[0]["monthly"].values()) == 2
