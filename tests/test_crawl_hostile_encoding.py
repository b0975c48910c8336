"""One invalid byte must not turn a UTF-8 page into mojibake (issue 10, crawl
hardening item 4), through the real CLI (`complaintwatch crawl blog`: real
spider, pipelines, SQLite store) against pages served on 127.0.0.1.

Before the fix, ``месяц\\xff`` in a page served with ``charset=utf-8`` failed
the strict UTF-8 decode and the whole page was guessed to be cp1252
("Ð—Ð°ÐºÐ°Ð·Ð°Ð»..."). Now the declared (header or meta) or detected charset
is kept and only the bad bytes become U+FFFD; pages in a real single-byte
encoding are still read as such.
"""

from __future__ import annotations

import pytest

from indexer.store import open_store
from tests.reliability_helpers import Route, Site, crawl, page, serve

WORDS = ("Заказал телефон", "через месяц", "деньги", "поддержка не отвечала", "Ozon")
TEXT = (
    "Заказал телефон в магазине Ozon, через месяц{bad} деньги так и не вернули.\n"
    "Второй абзац: поддержка не отвечала{bad2} на письма и звонки, заказ отменили без объяснений."
)


def _utf8_page(title: str, bad: bytes, bad2: bytes = b"", charset: str | None = "utf-8") -> bytes:
    """A UTF-8 page with raw invalid bytes spliced in after "месяц" (and "отвечала")."""
    html = page(title, TEXT.format(bad="\x00BAD\x00", bad2="\x00BAD2\x00" if bad2 else ""), charset=charset)
    return html.encode("utf-8").replace(b"\x00BAD\x00", bad).replace(b"\x00BAD2\x00", bad2)


ROUTES = {
    # the case: declared in the HTTP header
    "/header.html": Route(_utf8_page("Отменили заказ", b"\xff"), "text/html; charset=utf-8"),
    # declared only in <meta charset>, two different bad sequences (a stray byte, a cut-off 3-byte sequence)
    "/meta.html": Route(_utf8_page("Не вернули деньги", b"\xff", b"\xe2\x82"), "text/html"),
    # declared nowhere: detection finds UTF-8 all the same
    "/undeclared.html": Route(_utf8_page("Поддержка молчит", b"\xc0", charset=None), "text/html"),
    # a real cp1251 page without any declaration is still cp1251 (no U+FFFD at all)
    "/cp1251.html": Route(page("Отменили заказ", TEXT.format(bad="", bad2=""), charset=None).encode("cp1251")),
    # a cp1251 page whose header lies "utf-8": every Cyrillic letter is a bad UTF-8 byte, so it is not UTF-8
    "/cp1251-lying.html": Route(
        page("Отменили заказ", TEXT.format(bad="", bad2=""), charset=None).encode("cp1251"), "text/html; charset=utf-8"
    ),
}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    db = tmp_path_factory.mktemp("encoding") / "cw.db"
    site = Site(routes=dict(ROUTES))
    with serve(site):
        crawl(f"sqlite:///{db}", "blog", [site.url + path for path in ROUTES])
    with open_store(db) as store:
        return {p.url[len(site.url) :]: p for p in store.iter_posts()}


def test_every_page_was_stored(stored):
    assert set(stored) == set(ROUTES)


@pytest.mark.parametrize("path", ["/header.html", "/meta.html", "/undeclared.html"])
def test_invalid_bytes_in_utf8_become_one_replacement_each(stored, path):
    post = stored[path]
    for word in WORDS:
        assert word in post.text, (word, post.text)
    # U+FFFD exactly where the bad bytes were, nowhere else
    assert "через месяц\ufffd деньги" in post.text
    bad_sequences = 2 if path == "/meta.html" else 1
    assert post.text.count("\ufffd") == bad_sequences
    if path == "/meta.html":
        assert "отвечала\ufffd на письма" in post.text
    # no mojibake: the Cyrillic title and text came through as Cyrillic
    assert not any(m in post.text + post.title for m in ("Ð", "Ñ", "Р·", "Ð—"))
    assert post.title in ("Отменили заказ", "Не вернули деньги", "Поддержка молчит")


@pytest.mark.parametrize("path", ["/cp1251.html", "/cp1251-lying.html"])
def test_single_byte_cyrillic_is_still_read_right(stored, path):
    post = stored[path]
    for word in WORDS:
        assert word in post.text, (word, post.text)
    assert "\ufffd" not in post.text and post.title == "Отменили заказ"
