"""Highlighted snippets computed in Python, because the FTS index holds stems
while users must see (and get highlighted) the original words."""

from __future__ import annotations

import html
import re

from .analysis import stem

_WORD = re.compile(r"\w+", re.UNICODE)


def snippet(text: str, query_stems: set[str], width: int = 240) -> str:
    """An HTML-safe excerpt of ``text`` around the densest run of matches, each
    matched word wrapped in <mark>. Everything else is escaped."""
    text = " ".join(text.split())
    matches = [m for m in _WORD.finditer(text) if stem(m.group()) in query_stems] if query_stems else []
    if matches:
        # start at the match whose window covers the most other matches
        best = max(matches, key=lambda m: sum(1 for o in matches if m.start() <= o.start() < m.start() + width))
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
