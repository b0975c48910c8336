"""Highlighted snippets computed in Python, because the FTS index holds stems
while users must see (and get highlighted) the original words."""

from __future__ import annotations

import html
import re
from bisect import bisect_left
from functools import lru_cache

from .analysis import stem

_WORD = re.compile(r"\w+", re.UNICODE)


# Snowball stems keep a word's first two letters (lower-cased, ё as е): the English and
# Russian stemmers change only endings, except Porter2's exceptional forms lying, dying
# and tying (stems lie, die, tie). So only words that start with a query stem's first two
# letters are stemmed; tests/test_search_cost.py checks the rule on every word of the corpus.
_EXCEPTIONS = {"lie": "ly", "die": "dy", "tie": "ty"}
_PLAIN = re.compile(r"[a-z0-9_\u0430-\u044f]+")  # prefixes the rule is known to hold for


@lru_cache(maxsize=4096)
def _candidates(query_stems: frozenset[str]) -> re.Pattern[str] | None:
    """Whole words that start like one of the stems (case and ё aside); None when a
    stem's letters are outside the scripts the rule was checked on."""
    prefixes = set()
    for st in query_stems:
        head = st[:2]
        if not _PLAIN.fullmatch(head):
            return None
        prefixes.add(head)
        if st in _EXCEPTIONS:
            prefixes.add(_EXCEPTIONS[st])
    alts = "|".join(sorted(re.escape(p).replace("е", "[её]") for p in prefixes))
    return re.compile(r"(?<!\w)(?:" + alts + r")\w*", re.IGNORECASE)


def _matches(text: str, query_stems: set[str]) -> list[re.Match[str]]:
    """The words of ``text`` whose stem is a query stem, in order. Only the words that
    start like a query stem are stemmed (one regex pass, no set of every word)."""
    found = _candidates(frozenset(query_stems))
    if found is not None:
        return [m for m in found.finditer(text) if stem(m.group()) in query_stems]
    hits = [w for w in set(_WORD.findall(text)) if stem(w) in query_stems]
    if not hits:
        return []
    # whole words only, as \w+ splits them: no word character on either side
    pattern = r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(hits, key=len, reverse=True))) + r")(?!\w)"
    return list(re.finditer(pattern, text))


def snippet(text: str, query_stems: set[str], width: int = 240) -> str:
    """An HTML-safe excerpt of ``text`` around the densest run of matches, each
    matched word wrapped in <mark>. Everything else is escaped."""
    text = " ".join(text.split())
    matches = _matches(text, query_stems) if query_stems else []
    if matches:
        # start at the match whose window covers the most other matches (the first such):
        # matches are in text order, so those a window covers end at a bisection
        starts = [m.start() for m in matches]
        best = matches[max(range(len(starts)), key=lambda i: bisect_left(starts, starts[i] + width) - i)]
        start = max(0, best.start() - width // 4)
    else:
        start = 0
    end = min(len(text), start + width)
    # don't cut words in half
    if start > 0:
        sp = text.find(" ", start)
        start = sp + 1 if 0 <= sp < best.start() else start
    if end < len(text):
        sp = text.rfind(" ", start, end)
        end = sp if sp > start else end
    out, pos = [], start
    for m in matches:
        if m.start() < start or m.end() > end:
            continue
        out.append(html.escape(text[pos : m.start()]))
        out.append("<mark>" + html.escape(m.group()) + "</mark>")
        pos = m.end()
    out.append(html.escape(text[pos:end]))
    return ("…" if start > 0 else "") + "".join(out) + ("…" if end < len(text) else "")
