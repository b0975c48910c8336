"""The vcru spider on a hand-written page in vc.ru's (Osnova) markup: no real
vc.ru page is saved in ../shared, so this pins the expected structure."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crawlers.spiders.vcru import VcruSpider
from tests.crawl_helpers import CrawlResult, crawl, serve_directory

MSK = timezone(timedelta(hours=3))

PAGE = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8">
<title>Озон потерял посылку и месяц кормит завтраками — Личный опыт на vc.ru</title>
<meta property="og:title" content="Озон потерял посылку и месяц кормит завтраками">
</head><body>
<div class="content-header">
  <div class="content-header__author"><a class="content-header-author__name" href="/u/1-boris">Борис Петров</a></div>
  <div class="content-header__date"><time datetime="2023-03-12T14:05:00+03:00">12 марта 2023 в 14:05</time></div>
</div>
<h1 class="content-title">Озон потерял посылку и месяц кормит завтраками</h1>
<div class="content content--full">
  <div class="l-island-a"><p>12 февраля я заказал в Озоне наушники за 12 990 ₽, заказ 12345678-0001.</p></div>
  <div class="l-island-a"><p>Трек-номер не обновляется уже месяц, поддержка отвечает шаблонами.</p></div>
  <div class="l-island-a"><p>Деньги так и не вернули.</p></div>
</div>
<div class="comments">
  <div class="comment" data-id="501">
    <div class="comment__header">
      <a class="comment__author" href="/u/2-anna"><span class="comment__author-name">Анна К.</span></a>
      <a class="comment__date" href="?comment=501"><time datetime="2023-03-12T15:00:00+03:00">15:00</time></a>
    </div>
    <div class="comment__text"><p>Та же история, жду возврат вторую неделю.</p></div>
    <div class="comment__children">
      <div class="comment" data-id="502" data-reply-to="501">
        <div class="comment__header">
          <a class="comment__author comment__author--verified" href="/s/ozon">
            <span class="comment__author-name">Ozon</span>
            <span class="comment__badge">Официальный представитель</span>
          </a>
          <a class="comment__date" href="?comment=502"><time datetime="2023-03-12T16:20:00+03:00">16:20</time></a>
        </div>
        <div class="comment__text"><p>Анна, добрый день. Внимательно изучили вашу ситуацию,
          деньги вернутся в течение 3 дней.</p></div>
      </div>
    </div>
  </div>
  <div class="comment" data-id="503">
    <div class="comment__header">
      <a class="comment__author" href="/u/3-ivan"><span class="comment__author-name">Иван</span></a>
      <span class="comment__date" data-date="1678635600">в 18:40</span>
    </div>
    <div class="comment__text"><p>Пишите претензию, помогает.</p></div>
  </div>
  <div class="comment" data-id="504">
    <div class="comment__header"><span class="comment__author-name">Удалённый</span></div>
    <div class="comment__text"></div>
  </div>
</div>
</body></html>"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[str, CrawlResult]:
    root = tmp_path_factory.mktemp("vcru")
    (root / "money").mkdir()
    (root / "money" / "612345-ozon-poteryal-posylku.html").write_text(PAGE, encoding="utf-8")
    with serve_directory(root) as base:
        return base, crawl(VcruSpider, [f"{base}/money/612345-ozon-poteryal-posylku.html"])


def test_article_and_nested_comments(site):
    base, result = site
    assert result.warnings("parse failed") == []
    url = f"{base}/money/612345-ozon-poteryal-posylku.html"
    post, *comments = sorted(result.items, key=lambda i: i.position)
    assert (post.url, post.position, post.parent_url, post.thread_url) == (url, 0, None, url)
    assert post.title == "Озон потерял посылку и месяц кормит завтраками"
    assert post.author == "Борис Петров"
    assert post.published == datetime(2023, 3, 12, 14, 5, tzinfo=MSK)
    assert post.language == "ru" and post.site_kind == "blog"
    assert post.text.startswith("12 февраля я заказал в Озоне наушники")
    assert "Деньги так и не вернули." in post.text

    # The empty comment 504 is skipped; the others keep page order and nesting.
    assert [c.author for c in comments] == ["Анна К.", "Ozon", "Иван"]
    anna, ozon, ivan = comments
    assert anna.url == f"{url}?comment=501" and anna.parent_url == url
    assert ozon.parent_url == anna.url and ozon.position == 2
    assert ivan.parent_url == url and ivan.position == 3
    assert anna.published == datetime(2023, 3, 12, 15, 0, tzinfo=MSK)
    assert ivan.published == datetime(2023, 3, 12, 15, 40, tzinfo=timezone.utc)  # data-date, Unix seconds
    assert anna.text == "Та же история, жду возврат вторую неделю."
    assert "Внимательно изучили" not in anna.text  # the nested reply is not part of its parent

    # The official account is flagged by its badge.
    assert ozon.author_badge is not None and "Официальный представитель" in ozon.author_badge
    assert "verified" in ozon.author_badge
    assert ozon.is_company_reply is True
    assert anna.is_company_reply is None and anna.author_badge is None
