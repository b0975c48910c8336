"""Tokenising and stemming shared by the full-text index, queries and snippets.

Stemming is chosen per token by script (Cyrillic -> Russian Snowball, Latin ->
English Snowball) rather than per post, because complaint texts mix scripts
("заказ на OZON", "Ozon'а").
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

TOKEN_RE = re.compile(r"\w+", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")

# Snowball stemmer objects keep per-call state: one pair per thread (the web
# server and concurrent store writers stem from several threads at once).
_local = threading.local()


def _stemmers():
    pair = getattr(_local, "pair", None)
    if pair is None:
        pair = _local.pair = (snowballstemmer.stemmer("russian"), snowballstemmer.stemmer("english"))
    return pair


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    t = token.lower().replace("ё", "е")
    if _CYRILLIC.search(t):
        return _stemmers()[0].stemWord(t)
    if t.isascii() and t.isalpha():
        return _stemmers()[1].stemWord(t)
    return t


def tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


def stems(text: str) -> list[str]:
    return [stem(t) for t in TOKEN_RE.findall(text)]


def stemmed_text(text: str) -> str:
    """What goes into the FTS index: the stems, space-separated."""
    return " ".join(stems(text))


def searchable_title(title: str, parent_url: str | None) -> str:
    """The title as the full-text index should see it: comments repeat their
    thread's title, and indexing it would rank every reply above the post it
    answers. Every store backend uses this rule."""
    return "" if parent_url else title
