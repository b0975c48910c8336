"""The pikabu spider on two captures of the same feed: one UTF-8 under a false
windows-1251 declaration, one real windows-1251. Same titles = encoding works."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from crawlers.extraction.encoding import looks_mojibake
from crawlers.spiders.pikabu import PikabuSpider
from tests.crawl_helpers import CrawlResult, crawl, shared_pages_url

MSK = timezone(timedelta(hours=3))
FILES = {"utf8": "pikabu_feed__ru__hot_utf8.html", "cp1251": "pikabu_feed__ru__hot_cp1251.html"}
LEGO = "https://pikabu.ru/story/klientoorientirovannost_lego_7539606"
_STORY_ID = re.compile(r"_(\d+)$")


@pytest.fixture(scope="module")
def results() -> dict[str, CrawlResult]:
    # One crawl per file: the captures share stories, and a crawl yields a URL once.
    return {key: crawl(PikabuSpider, [f"{shared_pages_url()}/{name}"]) for key, name in FILES.items()}


def _by_id(result: CrawlResult) -> dict[str, object]:
    return {_STORY_ID.search(i.url)[1]: i for i in result.items}


@pytest.mark.parametrize("key", FILES)
def test_twelve_story_cards_per_page(results, key):
    result = results[key]
    assert result.warnings("parse failed") == []
    assert len(result.items) == 12
    assert all(i.site_kind == "social" and i.language == "ru" for i in result.items)
    assert all(i.title and i.text and i.author for i in result.items)
    assert not any(looks_mojibake(f"{i.title}\n{i.text}") for i in result.items)
    assert all(re.search("[а-яё]", i.title + i.text, re.I) for i in result.items)
    dated = [i for i in result.items if i.published is not None]
    # Sponsored cards ("specials", "Партнёрский материал") show no date.
    assert {i.author for i in result.items if i.published is None} == {"specials"}
    assert all(i.published.utcoffset() == timedelta(hours=3) for i in dated)


def test_both_encodings_give_identical_cyrillic_titles(results):
    utf8, cp1251 = _by_id(results["utf8"]), _by_id(results["cp1251"])
    shared = sorted(set(utf8) & set(cp1251))
    assert len(shared) == 7  # the captures are hours apart: 7 stories are on both
    for story_id in shared:
        a, b = utf8[story_id], cp1251[story_id]
        assert a.title == b.title and a.author == b.author and a.published == b.published
    lego = utf8["7539606"]
    assert (lego.url, lego.title, lego.author) == (LEGO, "Клиентоориентированность Lego", "tishakot")
    assert lego.published == datetime(2020, 6, 23, 9, 48, 28, tzinfo=MSK)
    assert lego.text.startswith("Не перестаю восхищаться фирмой")
    assert utf8["7536327"].title == "Что важнее родной крови?"
