"""The company page as a reputation manager's start of the day (issue 13): the
reply rate over the company's complaints with the median time to its first
reply and the newest unanswered complaints; one mention timeline (complaints
and the company's replies per month, one y-scale); incident types with their
share of the company's complaints. Page and API, on both store backends."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from complaintwatch.models import Incident, Post, SiteKind
from tests.clock import NOW
from web import create_app
from web.charts import month_range, timeline_chart

XSS = "<script>alert(1)</script>"
D0 = NOW.replace(minute=0, second=0) - timedelta(days=100)


def _p(url, *, at, parent=None, pos=0, reply=False, title=None, text=None, companies=("acme",)):
    return Post(
        url=url,
        source_site="forum.test",
        site_kind=SiteKind.FORUM,
        title=title if title is not None else ("" if parent else f"Topic {url.rsplit('/', 1)[-1]}"),
        text=text or f"Post {url}: the parcel never arrived",
        companies=list(companies),
        parent_url=parent,
        thread_url=parent or url,
        position=pos,
        is_company_reply=reply,
        language="en",
        published_at=at,
    )


def posts() -> list[Post]:
    """acme's complaints: c1 (answered after 2 h, a customer comment first),
    c2 (a customer comment only), c2b (c2's story on another URL), c3 (answered
    after 10 h, again after 20 h), c4 (newest, no comments); not complaints:
    c5 (praise, unanswered) and acme's own opening post."""
    c1, c2, c3, c4 = (f"https://forum.test/acme/{n}" for n in ("c1", "c2", "c3", "c4"))
    story = "The courier lost my parcel and nobody answers"
    return [
        _p(c1, at=D0),
        _p(f"{c1}#1", at=D0 + timedelta(hours=1), parent=c1, pos=1),
        _p(f"{c1}#2", at=D0 + timedelta(hours=2), parent=c1, pos=2, reply=True),
        _p(c2, at=D0 + timedelta(days=30), title="Lost parcel", text=story),
        _p(f"{c2}#1", at=D0 + timedelta(days=30, hours=5), parent=c2, pos=1),
        _p("https://other.test/lost", at=D0 + timedelta(days=31), title="Lost parcel", text=story),
        _p(c3, at=D0 + timedelta(days=60)),
        _p(f"{c3}#1", at=D0 + timedelta(days=60, hours=20), parent=c3, pos=2, reply=True),
        _p(f"{c3}#0", at=D0 + timedelta(days=60, hours=10), parent=c3, pos=1, reply=True),
        _p(c4, at=D0 + timedelta(days=90), title=f"Refund refused {XSS}"),
        _p("https://forum.test/acme/c5", at=D0 + timedelta(days=91), title="Thanks, great shop"),
        _p("https://forum.test/acme/news", at=D0 + timedelta(days=92), reply=True, title="Acme news"),
    ]


@pytest.fixture
def filled(store):
    store.upsert_posts(posts())
    ids = {p.url: p.id for p in store.iter_posts()}
    store.set_stance([(ids["https://forum.test/acme/c5"], "praise")])
    lost = Incident(1, "Lost parcel", "Потеря посылки", size=3)
    refund = Incident(2, "Refund refused", "Отказ в возврате", size=1)
    store.replace_incidents(
        [lost, refund],
        {
            ids["https://forum.test/acme/c1"]: 1,
            ids["https://forum.test/acme/c2"]: 1,
            ids["https://other.test/lost"]: 1,
            ids["https://forum.test/acme/c3"]: 2,
        },
    )
    return store, ids


def test_store_complaint_replies(filled):
    store, ids = filled
    got = {
        c.url: (c.replied, c.first_reply_at - c.published_at if c.first_reply_at else None)
        for c in store.company_complaint_replies("acme")
    }
    assert got == {
        "https://forum.test/acme/c1": (True, timedelta(hours=2)),
        "https://forum.test/acme/c2": (False, None),
        "https://other.test/lost": (False, None),
        "https://forum.test/acme/c3": (True, timedelta(hours=10)),  # the first reply, not the later one
        "https://forum.test/acme/c4": (False, None),
    }
    assert store.company_complaint_replies("nobody") == []
    want: dict[str, int] = {}
    for p in posts():
        if p.is_company_reply:  # c1#2, c3#0, c3#1 and acme's news
            want[p.published_at.strftime("%Y-%m")] = want.get(p.published_at.strftime("%Y-%m"), 0) + 1
    assert store.company_reply_months("acme") == want


@pytest.fixture
def client(filled):
    store, ids = filled
    return create_app(store, None, {"TESTING": True}).test_client(), ids


def test_api_reply_rate_response_time_and_unanswered(client):
    c, ids = client
    data = c.get("/api/v1/company/acme").get_json()
    assert data["reply_rate"] == 0.4  # 2 of 5 complaints
    assert (data["complaints_answered"], data["complaints_considered"]) == (2, 5)
    assert data["median_response_hours"] == 6.0  # median of 2 h and 10 h
    assert [u["id"] for u in data["unanswered"]] == [
        ids["https://forum.test/acme/c4"],
        ids["https://other.test/lost"],
        ids["https://forum.test/acme/c2"],
    ]
    assert data["unanswered_total"] == 3
    assert data["unanswered"][0]["page"].endswith(f"/post/{ids['https://forum.test/acme/c4']}")


def test_api_incident_share_of_complaints(client):
    c, _ = client
    rows = {r["incident_id"]: r for r in c.get("/api/v1/company/acme").get_json()["recurring_failures"]}
    # 4 stories (c2 and its copy count once): lost parcel 2 of 4, refund refused (c3) 1 of 4
    assert (rows[1]["count"], rows[1]["share"]) == (2, 0.5)
    assert (rows[2]["count"], rows[2]["share"]) == (1, 0.25)


def test_api_timeline(client):
    c, _ = client
    tl = c.get("/api/v1/company/acme").get_json()["timeline"]
    months = [t["month"] for t in tl]
    assert months == month_range(D0.strftime("%Y-%m"), NOW.strftime("%Y-%m"))
    assert sum(t["complaints"] for t in tl) == 4  # c1, c2 (+copy once), c3, c4
    assert sum(t["company_replies"] for t in tl) == 4


def test_company_page(client):
    c, ids = client
    html = c.get("/company/acme").get_data(as_text=True)
    assert re.search(r'id="reply-rate">40%<', html) and "(2 of 5)" in html
    assert re.search(r'id="median-response">6 h<', html)
    unanswered = html[
        html.index('<ul class="unanswered">') : html.index("</ul>", html.index('<ul class="unanswered">'))
    ]
    links = re.findall(r'href="/post/(\d+)"', unanswered)
    assert links == [
        str(ids[u]) for u in ("https://forum.test/acme/c4", "https://other.test/lost", "https://forum.test/acme/c2")
    ]
    assert XSS not in html and "Refund refused &lt;script&gt;" in html
    # one timeline on one scale, valid SVG; per-incident rows as a table with counts and shares
    svgs = re.findall(r'<svg[^>]*class="chart timeline-chart".*?</svg>', html, re.S)
    assert len(svgs) == 1
    svg = ET.fromstring(svgs[0])
    ns = {"s": "http://www.w3.org/2000/svg"}
    tl = c.get("/api/v1/company/acme").get_json()["timeline"]
    bars = {m["month"]: (m["complaints"], m["company_replies"]) for m in tl}
    assert sum(n for n, _ in bars.values()) == 4 and sum(r for _, r in bars.values()) == 4
    complaints = [t.text for t in svg.findall(".//s:rect[@class='bar complaints']/s:title", ns)]
    replies = [t.text for t in svg.findall(".//s:rect[@class='bar replies']/s:title", ns)]
    assert complaints == [f"{m}: {n} complaints" for m, (n, _) in bars.items() if n]
    assert replies == [f"{m}: {r} company replies" for m, (_, r) in bars.items() if r]
    assert "bar-chart" not in html
    shares = re.findall(r'<td class="num share">([^<]*)</td>', html)
    assert shares == ["50%", "25%"]


def test_timeline_chart_is_valid_escaped_and_one_scale():
    months = month_range("2024-01", "2024-04")
    svg = timeline_chart({"2024-01": 8, "2024-03": 2}, {"2024-01": 4}, months, title=f'{XSS} & "q"\x01')
    root = ET.fromstring(str(svg))
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert root.find("s:title", ns).text == f'{XSS} & "q"'
    heights = {
        r.find("s:title", ns).text: float(r.get("height"))
        for r in root.findall(".//s:rect[@height]", ns)
        if r.find("s:title", ns) is not None
    }
    assert heights["2024-01: 4 company replies"] * 2 == pytest.approx(heights["2024-01: 8 complaints"])
    assert heights["2024-03: 2 complaints"] * 4 == pytest.approx(heights["2024-01: 8 complaints"])
    assert "no data" in timeline_chart({}, {}, months)
