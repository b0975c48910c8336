"""User query -> a safe FTS5 MATCH expression.

Users type free text; FTS5 syntax (quotes, NEAR, column filters, *, ^, AND/OR)
must never reach SQLite raw, so every term is re-quoted after stemming.
Supported user syntax: "exact phrase", -excluded, OR between terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .analysis import stems

MAX_QUERY_CHARS = 500
MAX_TERMS = 32

_PART = re.compile(r'(-?)"([^"]*)"|(\S+)')


@dataclass(slots=True)
class ParsedQuery:
    must: list[list[str]] = field(default_factory=list)  # each: phrase as stem list
    any_of: list[list[list[str]]] = field(default_factory=list)  # OR groups
    exclude: list[list[str]] = field(default_factory=list)

    @property
    def positive_stems(self) -> set[str]:
        out = {s for ph in self.must for s in ph}
        out |= {s for grp in self.any_of for ph in grp for s in ph}
        return out

    def is_empty(self) -> bool:
        return not self.must and not self.any_of


def parse_query(q: str) -> ParsedQuery:
    q = (q or "")[:MAX_QUERY_CHARS]
    if q.count('"') % 2:  # unbalanced quote: treat it as plain text
        q = q.replace('"', " ")
    groups: list[list[list[str]]] = []  # AND of groups; a group is an OR of phrases
    exclude: list[list[str]] = []
    join_next = False
    for m in _PART.finditer(q):
        neg, phrase, word = m.group(1), m.group(2), m.group(3)
        if word == "OR":
            join_next = bool(groups)
            continue
        if word is not None and word.startswith("-") and len(word) > 1:
            neg, word = "-", word[1:]
        ph = stems(phrase if phrase is not None else word)
        if not ph or len(groups) + len(exclude) >= MAX_TERMS:
            continue
        if neg:
            exclude.append(ph)
        elif join_next:
            groups[-1].append(ph)
        else:
            groups.append([ph])
        join_next = False
    return ParsedQuery(
        must=[g[0] for g in groups if len(g) == 1],
        any_of=[g for g in groups if len(g) > 1],
        exclude=exclude,
    )


def _quote(phrase: list[str]) -> str:
    return '"' + " ".join(s.replace('"', "") for s in phrase) + '"'


def to_fts5(pq: ParsedQuery) -> str | None:
    """FTS5 expression over the stemmed columns, or None when nothing to match."""
    if pq.is_empty():
        return None
    parts = [_quote(ph) for ph in pq.must]
    parts += ["(" + " OR ".join(_quote(ph) for ph in grp) + ")" for grp in pq.any_of]
    expr = " AND ".join(parts)
    for ph in pq.exclude:
        expr += " NOT " + _quote(ph)
    return expr
