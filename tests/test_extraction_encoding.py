"""Encoding detection on the three real traps in ../shared/pages."""

from __future__ import annotations

import re

import pytest
from scrapy.http import HtmlResponse

from crawlers.extraction.encoding import decode_html, looks_mojibake, response_text, selector
from tests.crawl_helpers import SHARED_PAGES

PIKABU_UTF8 = SHARED_PAGES / "pikabu_feed__ru__hot_utf8.html"  # UTF-8 bytes, <meta charset="windows-1251">
PIKABU_CP1251 = SHARED_PAGES / "pikabu_feed__ru__hot_cp1251.html"  # real windows-1251
VBULLETIN = SHARED_PAGES / "forum_vbulletin__de__pocketpc-ch_update_delivery_thread_p34.html"  # ISO-8859-1

PIKABU_TITLE = "Горячее – самые интересные и обсуждаемые посты | Пикабу"


def _title(text: str) -> str:
    m = re.search(r"<title>(.*?)</title>", text, re.S)
    assert m
    return " ".join(m[1].split())


def test_utf8_bytes_under_a_cp1251_declaration_decode_as_utf8():
    body = PIKABU_UTF8.read_bytes()
    assert b'<meta charset="windows-1251">' in body
    decoded = decode_html(body, "text/html")
    assert decoded.encoding == "utf-8"
    assert _title(decoded.text) == PIKABU_TITLE
    # Even a header that repeats the lie does not win over the bytes.
    assert decode_html(body, "text/html; charset=windows-1251").encoding == "utf-8"


def test_real_cp1251_decodes_as_cp1251():
    decoded = decode_html(PIKABU_CP1251.read_bytes(), "text/html")
    assert decoded.encoding == "cp1251"
    assert _title(decoded.text) == PIKABU_TITLE


@pytest.mark.parametrize("strip_meta", [False, True])
def test_latin1_forum_page_keeps_umlauts(strip_meta):
    body = VBULLETIN.read_bytes()
    if strip_meta:  # the trap as described: Latin-1 with no declaration at all
        body = body.replace(b'<meta charset="ISO-8859-1" />', b"")
        assert b"charset" not in body.lower()
    text = decode_html(body, "text/html").text
    for word in ("Beiträge", "Gehöre zum Inventar", "Fühle mich heimisch"):
        assert word in text
    assert "\ufffd" not in text and not looks_mojibake(text)


def test_bom_wins_and_mojibake_is_recognised():
    assert decode_html(b"\xef\xbb\xbf" + "Привет".encode()).text == "Привет"
    assert decode_html("\ufeffПривет".encode("utf-16-le")).text == "Привет"
    assert looks_mojibake("Привет, мир".encode().decode("cp1251"))
    assert looks_mojibake("Grüße aus Köln".encode().decode("cp1252"))
    assert not looks_mojibake("Grüße aus Köln, Привет мир")


def test_response_helpers_ignore_the_wrong_declaration():
    body = PIKABU_UTF8.read_bytes()
    response = HtmlResponse(url="http://127.0.0.1/pikabu.html", body=body, headers={"Content-Type": "text/html"})
    assert PIKABU_TITLE not in response.text  # Scrapy believes the meta tag
    assert PIKABU_TITLE in response_text(response)
    assert " ".join(selector(response).css("title::text").get().split()) == PIKABU_TITLE
