"""The bundled demo sites: built into a temp dir, served on loopback, fetched
over real HTTP. Checks the properties the demo and the crawl tests rely on."""

from __future__ import annotations

import filecmp
import http.client
import json
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from complaintwatch.demosite import (
    COMPANIES,
    COMPANY_BY_ID,
    INCIDENT_TYPES,
    DemoServer,
    build_demo_sites,
    serve_demo_sites,
    truth_manifest,
)
from complaintwatch.models import canonical_url

SITEMAP_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
# Real companies that must never appear: Latin names match as words,
# Cyrillic stems as substrings (they inflect).
DENY_LATIN = (
    "ozon", "wildberries", "amazon", "aliexpress", "yandex", "sber", "sberbank", "tinkoff", "avito", "lamoda",
    "cdek", "boxberry", "ebay", "walmart", "mvideo", "eldorado", "samsung", "xiaomi", "apple", "alibaba", "temu",
)  # fmt: skip
DENY_CYRILLIC = (
    "озон", "вайлдберри", "валдбер", "алиэкспресс", "яндекс", "сбер", "тинькофф", "авито", "ламода", "сдэк",
    "почта россии", "м.видео", "эльдорадо", "самсунг", "сяоми", "мегамаркет",
)  # fmt: skip


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demosite")


@pytest.fixture(scope="module")
def sites(out_dir: Path):
    return build_demo_sites(out_dir)


@pytest.fixture(scope="module")
def server(sites):
    with serve_demo_sites(sites) as srv:
        yield srv


@pytest.fixture(scope="module")
def truth(sites):
    return truth_manifest(sites)


@pytest.fixture(scope="module")
def roots(truth):
    return [p for p in truth if p.is_root]


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def sitemap_pages(server: DemoServer) -> dict[str, dict[str, tuple[int, str, str]]]:
    """site -> url -> (status, content type, body) for every sitemap URL."""
    out: dict[str, dict[str, tuple[int, str, str]]] = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for name, (sitemap_url,) in server.start_urls.items():
            status, _, body = fetch(sitemap_url)
            assert status == 200
            locs = [e.text for e in ET.fromstring(body).findall("sm:url/sm:loc", SITEMAP_NS)]
            results = pool.map(fetch, locs)
            out[name] = {u: (s, h.get("Content-Type", ""), b) for u, (s, h, b) in zip(locs, results)}
    return out


# -- API ---------------------------------------------------------------------


def test_api_shapes(sites, server: DemoServer) -> None:
    assert [(s.name, s.kind) for s in sites] == [("blog", "blog"), ("forum", "forum"), ("reviews", "review")]
    for s in sites:
        assert (s.root / "robots.txt").is_file() and (s.root / "sitemap.xml").is_file()
        base = server.base_urls[s.name]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)
        assert server.start_urls[s.name] == [f"{base}/sitemap.xml"]
    assert len(set(server.base_urls.values())) == 3  # one port per site


def test_server_closes(sites) -> None:
    with serve_demo_sites(sites[:1]) as srv:
        url = srv.base_urls["blog"] + "/robots.txt"
        assert fetch(url)[0] == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


def test_build_is_fast_and_deterministic(sites, out_dir: Path, tmp_path: Path) -> None:
    start = datetime.now()
    build_demo_sites(tmp_path)
    assert datetime.now() - start < timedelta(seconds=5)
    for s in sites:
        a = sorted(p.relative_to(s.root) for p in s.root.rglob("*") if p.is_file())
        b = sorted(p.relative_to(tmp_path / s.name) for p in (tmp_path / s.name).rglob("*") if p.is_file())
        assert a == b
        _, mismatch, errors = filecmp.cmpfiles(s.root, tmp_path / s.name, [str(p) for p in a], shallow=False)
        assert mismatch == [] and errors == []
    assert (out_dir / "truth.json").read_bytes() == (tmp_path / "truth.json").read_bytes()


# -- corpus ------------------------------------------------------------------


def test_counts(truth, roots) -> None:
    comments = [p for p in truth if not p.is_root]
    assert len(roots) >= 250
    assert len(comments) >= 400
    per_site = Counter(p.site for p in roots)
    assert all(per_site[s] >= 60 for s in ("blog", "forum", "reviews")), per_site
    assert Counter(p.kind for p in truth).keys() == {"blog", "forum", "review"}


def test_languages(truth, roots) -> None:
    ru_share = sum(p.language == "ru" for p in roots) / len(roots)
    assert 0.55 <= ru_share <= 0.65
    for site in ("blog", "forum", "reviews"):
        langs = Counter(p.language for p in roots if p.site == site)
        assert langs["ru"] > langs["en"] > 0, (site, langs)
    cyr = re.compile(r"[а-яё]", re.I)
    for p in truth:  # the declared language is the text's language
        if p.language == "en":
            assert not cyr.search(p.text), p.path
        else:
            assert len(cyr.findall(p.text)) > len(p.text) / 4, p.path


def test_incident_mix_and_noise(roots) -> None:
    keys = Counter(p.incident for p in roots)
    assert set(keys) - {None} == set(INCIDENT_TYPES)
    assert 0.08 <= keys[None] / len(roots) <= 0.18  # praise / questions as noise


def test_company_profiles(roots, truth) -> None:
    by_company: dict[str, Counter] = defaultdict(Counter)
    for p in roots:
        by_company[p.companies[0]][p.incident] += 1
    assert set(by_company) == {c.id for c in COMPANIES}
    for cid, incidents in by_company.items():
        strong = [k for k, n in incidents.items() if k and n >= 5]
        assert len(strong) >= 2, (cid, incidents)

    def dates(cid: str, incident: str) -> list[datetime]:
        return [datetime.fromisoformat(p.published) for p in roots if p.companies[0] == cid and p.incident == incident]

    promo = dates("korobka", "promo_cancelled")
    spike = [d for d in promo if datetime(2023, 11, 1).date() <= d.date() <= datetime(2024, 2, 1).date()]
    assert len(spike) >= len(promo) / 2  # the late-2023 bonus wipe
    lost = dates("penguin_express", "lost_parcel")
    assert sum(d.year >= 2024 for d in lost) > 2 * sum(d.year <= 2022 for d in lost)  # rising
    assert by_company["karmanpay"]["useless_support"] >= 0.25 * sum(by_company["karmanpay"].values())
    assert by_company["uyutdom"][None] >= 0.4 * sum(by_company["uyutdom"].values())  # mostly fine
    replies = Counter(p.companies[0] for p in truth if p.is_company_reply)
    assert replies["penguin_express"] == 0 and replies["korobka"] >= 10 and replies["lukoshko24"] >= 10
    # some delivery complaints about shops also name the courier
    assert any(p.companies[1:] == ("penguin_express",) for p in roots)


def test_dates(truth, roots) -> None:
    stamps = {p.path: datetime.fromisoformat(p.published) for p in truth}
    assert all(d.tzinfo is not None for d in stamps.values())
    first, last = min(stamps.values()), max(stamps.values())
    assert first.year == 2019 and last.year == 2025 and last - first >= timedelta(days=5 * 365)
    for p in truth:
        if p.language == "ru":
            assert p.published.endswith("+03:00")
        if not p.is_root:
            assert stamps[p.path] > stamps[p.thread_path]
    years = Counter(d.year for d in stamps.values())
    assert all(years[y] >= 20 for y in range(2019, 2026)), years


def test_texts_unique_and_varied(roots, truth) -> None:
    texts = [p.text for p in roots]
    assert len(set(texts)) == len(texts)
    lengths = [len(t) for t in texts]
    assert min(lengths) < 250 and max(lengths) > 600  # short reviews to long blog posts
    assert Counter(t.count("\n\n") + 1 for t in texts).keys() >= {1, 2, 3}  # paragraphs
    comments = [p.text for p in truth if not p.is_root]
    assert any(len(t) < 40 for t in comments)  # one-liners
    for p in roots:
        if p.site != "reviews":  # a review page names the company itself
            assert any(a in f"{p.title}\n{p.text}" for a in COMPANY_BY_ID[p.companies[0]].aliases), p.path
        assert "{" not in p.text and "[[" not in p.text and "{" not in p.title  # no template leftovers


def test_no_real_company_names(truth, sites) -> None:
    latin = re.compile(r"\b(" + "|".join(DENY_LATIN) + r")\b", re.I)
    chunks = [f"{p.title}\n{p.text}\n{p.author}" for p in truth]
    chunks += [p.read_text(encoding="utf-8") for s in sites for p in s.root.rglob("*") if p.is_file()]
    for chunk in chunks:
        low = chunk.lower()
        assert not latin.search(chunk), latin.search(chunk)
        assert not [w for w in DENY_CYRILLIC if w in low]


def test_companies_table() -> None:
    ids = [c.id for c in COMPANIES]
    assert 6 <= len(ids) <= 8 and len(set(ids)) == len(ids)
    owner: dict[str, str] = {}
    for c in COMPANIES:
        assert c.name_ru in c.aliases and c.name_en in c.aliases and c.domain in c.aliases
        assert len(c.forms_ru) == 6 and all(f in c.aliases for f in c.forms_ru)
        for alias in c.aliases:
            assert owner.setdefault(alias, c.id) == c.id, f"{alias!r} is ambiguous"
    assert {"Коробка", "Коробки", "Коробке", "Коробку", "korobka.ru", "Korobka"} <= set(
        COMPANY_BY_ID["korobka"].aliases
    )


# -- HTTP: robots, sitemaps, pages -------------------------------------------


def test_robots(server: DemoServer) -> None:
    for base in server.base_urls.values():
        status, headers, body = fetch(f"{base}/robots.txt")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        assert "User-agent: *" in body and re.search(r"^Disallow: /\S+", body, re.M)
        assert f"Sitemap: {base}/sitemap.xml" in body.splitlines()


def test_every_sitemap_url_is_served(sitemap_pages, server: DemoServer, roots) -> None:
    for name, pages in sitemap_pages.items():
        base = server.base_urls[name]
        assert len(pages) >= 60
        for url, (status, ctype, body) in pages.items():
            assert url.startswith(base + "/")
            assert status == 200 and ctype.startswith("text/html"), url
            assert "__BASE_URL__" not in body and "<html" in body
        listed = {canonical_url(u) for u in pages}
        for p in roots:
            if p.site == name:
                assert canonical_url(base + p.path) in listed


def test_sitemap_lastmod(server: DemoServer) -> None:
    for sitemap_url in (u for urls in server.start_urls.values() for u in urls):
        root = ET.fromstring(fetch(sitemap_url)[2])
        for entry in root.findall("sm:url", SITEMAP_NS):
            lastmod = entry.find("sm:lastmod", SITEMAP_NS).text
            assert datetime.fromisoformat(lastmod).tzinfo is not None


def test_every_post_is_on_its_page(truth, sitemap_pages, server: DemoServer) -> None:
    """Each comment's anchor is on the page it claims, with its text."""
    for p in truth:
        base = server.base_urls[p.site]
        page = sitemap_pages[p.site].get(base + p.page_path)
        assert page is not None, p.page_path
        html = page[2]
        assert f'id="{p.anchor}"' in html, (p.page_path, p.anchor)
        first_line = p.text.split("\n")[0]
        assert _escape(first_line[:60]) in html, (p.path, first_line[:60])


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;")
    )


def test_blog_markup(truth, sitemap_pages, server: DemoServer) -> None:
    base = server.base_urls["blog"]
    pages = sitemap_pages["blog"]
    assert any('<ol class="children">' in b for _, _, b in pages.values())  # nested replies
    official_seen = False
    for p in (p for p in truth if p.site == "blog" and p.is_root):
        html = pages[base + p.path][2]
        lang = "ru-RU" if p.language == "ru" else "en-US"
        assert f'<html lang="{lang}"' in html
        assert f'<meta property="article:published_time" content="{p.published}" />' in html
        assert f'<h1 class="entry-title">{_escape(p.title)}</h1>' in html
        assert f'rel="author">{_escape(p.author)}</a>' in html
        assert f'<time class="entry-date published" datetime="{p.published}">' in html
    for p in (p for p in truth if p.site == "blog" and p.is_company_reply):
        html = pages[base + p.page_path][2]
        li = re.search(rf'<li id="{p.anchor}" class="([^"]+)">', html)
        assert li and "comment-author-official" in li.group(1).split()
        official_seen = True
    assert official_seen
    assert 'class="comment-badge comment-badge--official"' in "".join(b for _, _, b in pages.values())


def test_blog_feed_and_listings(server: DemoServer, roots) -> None:
    base = server.base_urls["blog"]
    status, headers, body = fetch(f"{base}/feed/")
    assert status == 200 and "rss+xml" in headers["Content-Type"]
    channel = ET.fromstring(body).find("channel")
    items = channel.findall("item")
    assert len(items) == 20
    dc = "{http://purl.org/dc/elements/1.1/}creator"
    blog_paths = {p.path for p in roots if p.site == "blog"}
    for item in items:
        assert parsedate_to_datetime(item.findtext("pubDate")).tzinfo is not None
        assert item.findtext(dc)
        assert item.findtext("link").removeprefix(base) in blog_paths
    status, _, home = fetch(f"{base}/")
    assert status == 200 and '<link rel="next" href="' + base + '/page/2/" />' in home
    assert home.count('<article id="post-') == 20
    assert fetch(f"{base}/page/2/")[0] == 200
    assert fetch(f"{base}/category/korobka/")[0] == 200


def test_forum_markup(truth, sitemap_pages, server: DemoServer) -> None:
    base = server.base_urls["forum"]
    pages = sitemap_pages["forum"]
    xf_time = re.compile(
        r'<time\s+(?:itemprop="datePublished" )?class="u-dt" dir="auto" datetime="([^"]+)" data-time="(\d+)"'
    )
    multi = [u for u in pages if re.search(r"/page-\d+$", u)]
    assert multi, "some threads must span pages"
    for url in multi:
        thread, n = url.rsplit("/page-", 1)
        prev = f"{thread}/" if n == "2" else f"{thread}/page-{int(n) - 1}"
        assert f'<link rel="prev" href="{prev}" />' in pages[url][2]
        assert f'<link rel="next" href="{url}" />' in pages[prev][2]
    for p in (p for p in truth if p.site == "forum"):
        html = pages[base + p.page_path][2]
        art = re.search(
            rf'<article class="message message--post[^"]*"\s+data-author="([^"]+)"\s+data-content="{p.anchor}"', html
        )
        assert art and art.group(1) == _escape(p.author), p.path
        end = html.find('<article class="message message--post', art.end())
        block = html[art.end() : end if end > 0 else len(html)]
        stamp = xf_time.search(block)
        assert datetime.fromisoformat(stamp.group(1)) == datetime.fromisoformat(p.published)
        assert int(stamp.group(2)) == int(datetime.fromisoformat(p.published).timestamp())
        assert '<div class="bbWrapper">' in block
        if p.is_company_reply:
            assert "userBanner--staff" in block
            assert re.search(r'class="userTitle message-userTitle"[^>]*>(Официальный представитель|Official) ', block)
    assert any("bbCodeBlock--quote" in b for _, _, b in pages.values())
    status, _, index = fetch(f"{base}/")
    assert status == 200 and index.count('class="node-title"') == 10
    node = re.search(r'<h3 class="node-title"><a href="([^"]+)"', index).group(1)
    status, _, listing = fetch(base + node)
    assert status == 200 and "structItem--thread" in listing


def test_review_jsonld(truth, sitemap_pages, server: DemoServer) -> None:
    base = server.base_urls["reviews"]
    pages = sitemap_pages["reviews"]
    replies = {p.thread_path: p for p in truth if p.site == "reviews" and p.is_company_reply}
    for p in (p for p in truth if p.site == "reviews" and p.is_root):
        html = pages[base + p.path][2]
        blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
        assert len(blocks) == 1
        data = json.loads(blocks[0])
        assert data["@type"] == "Review"
        assert data["author"]["name"] == p.author
        assert data["datePublished"] == p.published
        assert data["name"] == p.title
        assert data["reviewBody"] == p.text
        assert data["inLanguage"] == p.language
        assert data["reviewRating"]["ratingValue"] == p.rating and 1 <= p.rating <= 5
        item = data["itemReviewed"]
        company = COMPANY_BY_ID[p.companies[0]]
        assert item["@type"] == "Organization" and item["name"] in company.aliases
        assert item["url"] == f"https://{company.domain}/"
        assert data["url"] == base + p.path
        if p.path in replies:
            reply = replies[p.path]
            assert 'class="review__company-reply review-company-reply" id="reply"' in html
            assert f'<span class="company-reply__company-name">{_escape(reply.author)}</span>' in html
            assert f'datetime="{reply.published}"' in html
    assert {p.rating for p in truth if p.rating} == {1, 2, 3, 4, 5}
    for rating in range(1, 6):
        assert fetch(f"{base}/static/stars/stars-{rating}.svg")[0] == 200


def test_review_company_pages(server: DemoServer) -> None:
    base = server.base_urls["reviews"]
    status, _, home = fetch(f"{base}/")
    assert status == 200
    links = re.findall(r'href="(/review/[^"/]+/)"', home)
    assert len(set(links)) == len(COMPANIES)
    status, _, page = fetch(f"{base}/review/korobka.ru/")
    assert status == 200 and page.count('<article class="review"') == 10
    assert 'rel="next" href="/review/korobka.ru/page/2/"' in page
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))
    assert data["@type"] == "Organization" and data["aggregateRating"]["reviewCount"] > 10


def test_server_edges(server: DemoServer, capfd: pytest.CaptureFixture[str]) -> None:
    base = server.base_urls["forum"]
    assert fetch(f"{base}/no/such/page")[0] == 404
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", "/forums/../../truth.json")  # raw path: no client-side normalisation
    assert conn.getresponse().status == 404
    conn.close()
    node = re.search(r'<h3 class="node-title"><a href="([^"]+)"', fetch(f"{base}/")[2]).group(1)
    thread = re.search(r'href="(/threads/[^"]+/)"', fetch(base + node)[2])
    assert thread
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", thread.group(1).rstrip("/"))  # a directory asked without its slash
    resp = conn.getresponse()
    assert resp.status == 301 and resp.getheader("Location") == thread.group(1)
    conn.close()
    status, headers, body = fetch(f"{base}/robots.txt", method="HEAD")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 0
    assert capfd.readouterr().err == ""  # no per-request log lines
