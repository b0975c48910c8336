"""Highlighted snippets computed in Python, because the FTS index holds stems
while users must see (and get highlighted) the original words."""

from __future__ import annotations

import html
import re
from bisect import bisect_left

from .analysis import stem

_WORD = re.compile(r"\w+", re.UNICODE)


def _matches(text: str, query_stems: set[str]) -> list[re.Match[str]]:
    """The words of ``text`` whose stem is a query stem, in order. Each distinct word
    is stemmed once, and only the matching ones are searched for again: a long post
    repeats most of its words, and most have no match."""
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
