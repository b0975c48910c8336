"""Bad input to the crawlers: real spiders and pipelines through the real CLI
(`complaintwatch crawl`) against local HTTP servers serving broken pages,
into a temp store. Every bad page is a logged skip or a stored post, the
crawl never crashes, and nothing already stored is lost."""

from __future__ import annotations

import json
import random

import pytest

from crawlers import settings as crawl_settings
from indexer.store import open_store
from tests.crawl_helpers import SHARED_PAGES
from tests.reliability_helpers import STORY, Route, Site, cli, crawl, exactly, page, serve

MAX = crawl_settings.DOWNLOAD_MAXSIZE  # 20 MB


@pytest.fixture(scope="module")
def bad_crawl(tmp_path_factory):
    """Crawl two good pages, then every bad page (one good page now broken)
    into the same store."""
    tmp = tmp_path_factory.mktemp("badinput")
    store_url = f"sqlite:///{tmp / 'cw.db'}"
    rnd = random.Random(5)
    a, b = Site(), Site()
    a.routes = {
        "/good-1.html": Route(page("Отменили заказ", STORY).encode()),
        "/good-2.html": Route(page("Вернули деньги через месяц", STORY + "\nВторой пост.").encode()),
    }
    with serve(a), serve(b):
        first = crawl(store_url, "blog", [a.url + p for p in a.routes])
        with open_store(tmp / "cw.db") as store:
            before = {p.url: p for p in store.iter_posts()}
        full = page("Обрезанная страница", STORY + "\nЕщё абзац про возврат денег, который не дошёл до конца").encode()
        a.routes.update(
            {
                # the good page now comes back empty: the stored post must stay
                "/good-2.html": Route(page("Вернули деньги через месяц", "").encode()),
                "/truncated.html": Route(full[: full.index("который".encode())]),
                "/binary.html": Route(bytes(rnd.getrandbits(8) for _ in range(200_000))),
                "/big-at.html": Route(exactly(MAX, "Ровно на пределе")),
                "/big-over.html": Route(exactly(MAX + 1, "На байт больше")),
                "/big-stream.html": Route(exactly(MAX + 1, "Поток без длины"), streamed=True),
                # the header says windows-1251, the bytes are UTF-8
                "/charset-lies.html": Route(
                    page("Заголовок врёт", STORY).encode("utf-8"), "text/html; charset=windows-1251"
                ),
                # the page says UTF-8, the bytes are windows-1251
                "/meta-lies.html": Route(page("Мета врёт", STORY + "\nмета").encode("cp1251")),
                # no charset anywhere, windows-1251 bytes
                "/no-charset.html": Route(page("Без кодировки", STORY + "\nбез", charset=None).encode("cp1251")),
                "/future.html": Route(
                    page("Из будущего", STORY + "\nбудущее", date="2099-01-01T00:00:00+00:00").encode()
                ),
                "/bad-date.html": Route(page("Плохая дата", STORY + "\nдата", date="32 мартобря 20ХХ").encode()),
                "/empty.html": Route(page("Пустой пост", "").encode()),
                "/dup-a.html": Route(page("Один рассказ", STORY + "\nДубль на двух сайтах.").encode()),
            }
        )
        b.routes = {"/dup-b.html": Route(page("Один рассказ", STORY + "\nДубль на двух сайтах.").encode())}
        urls = [a.url + p for p in a.routes if p != "/good-1.html"] + [b.url + "/dup-b.html"]
        second = crawl(store_url, "blog", urls)
    check = cli("--store", store_url, "check")
    with open_store(tmp / "cw.db") as store:
        after = {p.url: p for p in store.iter_posts()}
        dup = store.get_post_by_url(a.url + "/dup-a.html")
        same = store.same_story(dup) if dup else []
    return {
        "a": a.url,
        "b": b.url,
        "first": first,
        "second": second,
        "log": second.stderr,
        "before": before,
        "after": after,
        "check": check,
        "same": same,
    }


def test_good_posts_survive_a_crawl_of_broken_pages(bad_crawl):
    before, after = bad_crawl["before"], bad_crawl["after"]
    assert len(before) == 2 and "2 new" in bad_crawl["first"].stdout
    for url, p in before.items():
        q = after[url]
        assert (q.id, q.title, q.text, q.content_hash) == (p.id, p.title, p.text, p.content_hash)
    # good-2 came back empty: a logged skip, not an update to nothing
    assert f"empty post skipped {bad_crawl['a']}/good-2.html" in bad_crawl["log"]
    assert bad_crawl["check"].returncode == 0, bad_crawl["check"].stdout


def test_truncated_html_is_stored_with_what_arrived(bad_crawl):
    p = bad_crawl["after"][bad_crawl["a"] + "/truncated.html"]
    assert p.title == "Обрезанная страница"
    assert p.text.startswith("Заказал телефон") and "Ещё абзац про возврат денег" in p.text


def test_binary_served_as_html_is_a_logged_skip(bad_crawl):
    assert bad_crawl["a"] + "/binary.html" not in bad_crawl["after"]
    assert f"empty post skipped {bad_crawl['a']}/binary.html" in bad_crawl["log"]


def test_download_maxsize_at_and_over(bad_crawl):
    a, log = bad_crawl["a"], bad_crawl["log"]
    at = bad_crawl["after"][a + "/big-at.html"]  # exactly DOWNLOAD_MAXSIZE bytes: still a page
    assert at.title == "Ровно на пределе" and at.text.startswith("Заказал телефон") and len(at.text) < 1000
    for path in ("/big-over.html", "/big-stream.html"):  # one byte more, announced or not: skipped
        assert a + path not in bad_crawl["after"]
        assert f"skipped {a}{path}: download cancelled (over DOWNLOAD_MAXSIZE={MAX} bytes)" in log
    assert "Error downloading" not in log


@pytest.mark.parametrize("path", ["/charset-lies.html", "/meta-lies.html", "/no-charset.html"])
def test_wrong_or_missing_charset_still_reads_russian(bad_crawl, path):
    p = bad_crawl["after"][bad_crawl["a"] + path]
    assert p.text.startswith("Заказал телефон в магазине Ozon") and p.language == "ru"
    assert p.author == "Иван Петров"


def test_future_and_unparseable_dates_are_left_empty(bad_crawl):
    for path in ("/future.html", "/bad-date.html"):
        p = bad_crawl["after"][bad_crawl["a"] + path]
        assert p.published_at is None and p.text.startswith("Заказал телефон")


def test_empty_post_is_a_logged_skip(bad_crawl):
    assert bad_crawl["a"] + "/empty.html" not in bad_crawl["after"]
    assert f"empty post skipped {bad_crawl['a']}/empty.html" in bad_crawl["log"]


def test_same_story_on_two_sites_is_one_story_with_both_sources(bad_crawl):
    a, b = bad_crawl["after"][bad_crawl["a"] + "/dup-a.html"], bad_crawl["after"][bad_crawl["b"] + "/dup-b.html"]
    assert a.source_site != b.source_site and a.content_hash == b.content_hash
    assert [p.url for p in bad_crawl["same"]] == [b.url]


def test_everything_else_was_stored(bad_crawl):
    a = bad_crawl["a"]
    stored = {u[len(a) :] for u in bad_crawl["after"] if u.startswith(a)}
    assert stored == {
        "/good-1.html",
        "/good-2.html",
        "/truncated.html",
        "/big-at.html",
        "/charset-lies.html",
        "/meta-lies.html",
        "/no-charset.html",
        "/future.html",
        "/bad-date.html",
        "/dup-a.html",
    }
    assert "9 new" in bad_crawl["second"].stdout  # 8 here and dup-b.html


# -- JSON with a lone surrogate ----------------------------------------------------

REDDIT = "reddit_api_json__en__r-announcements_were_back_comments.json"


def test_json_thread_with_a_broken_emoji_keeps_every_comment(tmp_path):
    """A JSON API that cut an emoji in half ("\\ud83d" alone) in one comment:
    that comment is stored with U+FFFD, the rest of the thread is not lost."""
    raw = (SHARED_PAGES / REDDIT).read_text(encoding="utf-8")
    first = raw.index('"kind": "t1"')
    i = raw.index('"body_html": "', first) + len('"body_html": "')
    broken = raw[:i] + "\\ud83d half an emoji \\u0000 " + raw[i:]
    j = broken.index('"author": "', first) + len('"author": "')
    broken = broken[:j] + "\\udc00" + broken[j:]
    assert json.loads(broken)  # still valid JSON
    site = Site(routes={"/clean.json": Route(raw.encode(), "application/json")})
    site.routes["/broken.json"] = Route(broken.encode(), "application/json")
    with serve(site):
        crawl(f"sqlite:///{tmp_path / 'clean.db'}", "reddit", [site.url + "/clean.json"])
        proc = crawl(f"sqlite:///{tmp_path / 'broken.db'}", "reddit", [site.url + "/broken.json"])
    assert "parse failed" not in proc.stderr
    with open_store(tmp_path / "clean.db") as clean, open_store(tmp_path / "broken.db") as bad:
        assert bad.count_posts() == clean.count_posts() > 400
        hit = next(p for p in bad.iter_posts() if "half an emoji" in p.text)
        assert "\ufffd half an emoji" in hit.text and "\x00" not in hit.text
        assert hit.author.startswith("\ufffd")
        assert bad.check() == []


def test_a_post_the_store_refuses_costs_only_itself(tmp_path):
    """StorePipeline: a batch with one post the store cannot take (it
    bypassed the validation that cleans such text; SQLite refuses a lone
    surrogate) stores the others."""
    from complaintwatch.models import Post, SiteKind
    from crawlers.pipelines import StorePipeline

    class Stats:
        def __init__(self):
            self.values: dict[str, int] = {}

        def inc_value(self, key, n=1):
            self.values[key] = self.values.get(key, 0) + n

    stats = Stats()
    pipe = StorePipeline(f"sqlite:///{tmp_path / 'p.db'}", batch=50, stats=stats)
    pipe.open_spider()
    store = pipe.store
    posts = [
        Post(url=f"http://p.test/{i}", source_site="p.test", site_kind=SiteKind.BLOG, title="t", text=f"пост {i}")
        for i in range(5)
    ]
    # a lone surrogate: only a Post built around the model's own checks can carry one
    posts[2] = Post(
        url="http://p.test/2", source_site="p.test", site_kind=SiteKind.BLOG, title="t", text="\ud800", content_hash="x"
    )
    for p in posts:
        pipe.process_item(p)
    pipe._flush()
    assert store.count_posts() == 4 and store.get_post_by_url("http://p.test/2") is None
    assert stats.values["complaintwatch/new"] == 4 and stats.values["complaintwatch/store_failed"] == 1
    assert store.check() == []
    pipe.close_spider()


# -- one story on several URLs, in the store -------------------------------------------


def test_same_story_and_company_stats_on_both_backends(store):
    from datetime import datetime, timezone

    from complaintwatch.models import Incident, Post, SiteKind

    def post(url: str, text: str = STORY, title: str = "Отменили заказ", **kw) -> Post:
        site = url.split("/")[2]
        when = datetime(2024, 3, 5, tzinfo=timezone.utc)
        return Post(url=url, source_site=site, site_kind=SiteKind.BLOG, title=title, text=text, published_at=when, **kw)

    posts = [
        post("https://a.example/1"),
        post("https://b.example/copy", text=STORY.replace(" ", "  ").upper()),  # case and spacing do not count
        post("https://c.example/x", text=STORY + " Другой рассказ."),
        post("https://a.example/1#c1", text="Спасибо!", title="", parent_url="https://a.example/1"),
        post("https://c.example/x#c1", text="Спасибо!", title="", parent_url="https://c.example/x"),  # comments
    ]
    store.upsert_posts(posts)
    by_url = {p.url: store.get_post_by_url(p.url) for p in posts}
    a, b, c, t1, t2 = (by_url[p.url] for p in posts)
    assert [p.url for p in store.same_story(a)] == [b.url]
    assert [p.url for p in store.same_story(b)] == [a.url]
    assert store.same_story(c) == [] and store.same_story(t1) == [] and store.same_story(t2) == []
    store.set_analysis([(p.id, ["ozon"], "ru") for p in by_url.values()])
    store.replace_incidents([Incident(1, "Order cancelled", "Отмена", size=5)], {p.id: 1 for p in by_url.values()})
    (stat,) = store.company_incident_stats("ozon")
    assert stat.count == 2 and stat.monthly == {"2024-03": 2}  # a and b are one story; comments do not count
    assert dict(store.companies())["ozon"] == 5  # posts are still posts
