"""User query -> a safe FTS5 MATCH expression.

Users type free text; FTS5 syntax (quotes, NEAR, column filters, *, ^, AND/OR)
must never reach SQLite raw, so every term is re-quoted after stemming.
Supported user syntax: "exact phrase", +required, -excluded, OR between terms.

Quoted phrases, +required words and -excluded words are *constraints*: the
stores hold vector ("similar in meaning") hits to them too
(``ParsedQuery.has_constraints``), while plain words only rank.
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
    # groups (an OR of phrases) made only of "quoted" phrases or +words: every
    # hit, vector hits included, must contain one phrase of each group
    required: list[list[list[str]]] = field(default_factory=list)

    @property
    def has_constraints(self) -> bool:
        """Whether vector hits must pass a text check (a phrase, +word or -word)."""
        return bool(self.required or self.exclude)

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
    exact: list[list[bool]] = []  # per phrase of each group: quoted or +word
    exclude: list[list[str]] = []
    join_next = False
    for m in _PART.finditer(q):
        neg, phrase, word = m.group(1), m.group(2), m.group(3)
        if word == "OR":
            join_next = bool(groups)
            continue
        strict = phrase is not None
        if word is not None and word.startswith("-") and len(word) > 1:
            neg, word = "-", word[1:]
        elif word is not None and word.startswith("+") and len(word) > 1:
            strict, word = True, word[1:]
        ph = stems(phrase if phrase is not None else word)
        if not ph or len(groups) + len(exclude) >= MAX_TERMS:
            continue
        if neg:
            exclude.append(ph)
        elif join_next:
            groups[-1].append(ph)
            exact[-1].append(strict)
        else:
            groups.append([ph])
            exact.append([strict])
        join_next = False
    return ParsedQuery(
        must=[g[0] for g in groups if len(g) == 1],
        any_of=[g for g in groups if len(g) > 1],
        exclude=exclude,
        required=[g for g, flags in zip(groups, exact) if all(flags)],
    )


def _quote(phrase: list[str]) -> str:
    return '"' + " ".join(s.replace('"', "") for s in phrase) + '"'


def constraints_fts5(pq: ParsedQuery) -> tuple[str | None, str | None]:
    """(what a hit must match, what it must not match) as FTS5 expressions over
    the stemmed columns: the query's constraints, for vector hits."""
    # a lone phrase unbracketed, as to_fts5 writes it: a quoted query's constraint is then
    # the same expression as its text search, whose match the store has already made
    must = " AND ".join(_quote(g[0]) if len(g) == 1 else "(" + " OR ".join(map(_quote, g)) + ")" for g in pq.required)
    must_not = " OR ".join(_quote(ph) for ph in pq.exclude)
    return must or None, must_not or None


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
