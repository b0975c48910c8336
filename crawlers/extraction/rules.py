"""The one rule-driven extractor: reads a page with an engine's rules (data in
crawlers/engines/*.toml) into records (posts, their fields, their nesting).

Thread bookkeeping (URLs, positions, parents as URLs) stays in the spiders;
what an engine's markup says stays in its file. Nothing here names an engine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lxml import etree
from parsel import Selector

from crawlers.engines import Engine, PostRule, Query, ReviewRule
from crawlers.extraction.dates import local_offset
from crawlers.extraction.encoding import loads_json
from crawlers.extraction.generic import own_copy
from crawlers.extraction.text import clean_lines, node_text, title_and_labels


@dataclass(slots=True)
class Record:
    """One post as an engine's rules read it, before thread bookkeeping."""

    node: etree._Element  # the record element in the page's tree
    author: str | None = None
    raw_date: str | None = None
    shown_date: str | None = None
    body: etree._Element | None = None  # the element the text came from (None: a value, or no body)
    text: str = ""
    permalink: str | None = None
    anchor: str | None = None
    number: int | None = None
    badge: str | None = None
    parent: int | None = None  # index (in the page's records) of the record this one answers
    children: list[Record] = field(default_factory=list)


# --- values ----------------------------------------------------------------------


def _element_text(el: etree._Element) -> str:
    text = " ".join(" ".join(el.itertext()).split())
    return text or " ".join((el.get("title") or "").split())  # an icon badge says it in its title


def _raw(el: etree._Element, query: Query) -> tuple[list[str], list[etree._Element]]:
    """The strings and the elements a query finds under (and at) `el`."""
    try:
        found = query.compiled(el)
    except etree.XPathError:
        return [], []
    if isinstance(found, bool):
        return (["true"] if found else []), []
    if not isinstance(found, list):
        return ([str(found)] if str(found).strip() else []), []
    elements = [x for x in found if isinstance(x, etree._Element)]
    texts = [x for x in found if isinstance(x, str)]
    if elements:
        return [_element_text(e) for e in elements], elements
    text_nodes = [t for t in texts if getattr(t, "is_text", False) or getattr(t, "is_tail", False)]
    if text_nodes and query.join is not False and len(text_nodes) == len(texts):
        return [" ".join(" ".join(texts).split())], []
    return [str(t) for t in texts], []


def _json_key(raw: str, key: str) -> str | None:
    try:
        data: Any = loads_json(raw)
    except (ValueError, json.JSONDecodeError):
        return None
    for part in key.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    if data is None or isinstance(data, (dict, list)):
        return None
    return str(data)


def _finish(raw: str, query: Query) -> str | None:
    value: str | None = raw
    if query.json_key is not None:
        value = _json_key(raw, query.json_key)
    if value is not None and query.param is not None:
        values = parse_qs(urlsplit(value.strip()).query).get(query.param)
        value = values[0] if values else None
    if value is not None and query.regex is not None:
        m = query.regex.search(value)
        value = m.group(query.group) if m else None
    # text was whitespace-normalised when read; an attribute keeps its inner
    # characters (a browser drops tabs and newlines inside a URL, "java\nscript:")
    if value and query.format is not None:
        value = query.format.format(value.strip())
    return value.strip() if value and value.strip() else None


def values(el: etree._Element, query: Query) -> list[str]:
    """Every value one query reads off `el` (after its json/param/match/format);
    a query with a constant `value` gives it once when it finds anything (that
    its `match` accepts)."""
    raw, elements = _raw(el, query)
    if query.value is not None:
        if query.regex is None:
            return [query.value] if raw or elements else []
        return [query.value] if any(query.regex.search(r) for r in raw) else []
    return [v for r in raw if (v := _finish(r, query)) is not None]


def first_value(el: etree._Element | None, queries: Iterable[Query]) -> str | None:
    """The value of the first query that gives one (its first, or last, value)."""
    if el is None:
        return None
    for query in queries:
        if found := values(el, query):
            return found[-1] if query.pick == "last" else found[0]
    return None


def all_values(el: etree._Element, queries: Iterable[Query]) -> list[str]:
    """Every value of every query, in query order, without repeats."""
    return list(dict.fromkeys(v for q in queries for v in values(el, q)))


def first_node(el: etree._Element, queries: Iterable[Query]) -> tuple[etree._Element, Query] | None:
    for query in queries:
        _, elements = _raw(el, query)
        if elements:
            return (elements[-1] if query.pick == "last" else elements[0]), query
    return None


def read_text(
    el: etree._Element, queries: Iterable[Query], drop: str | None = None
) -> tuple[etree._Element | None, str] | None:
    """The body: the first query's element (its readable text, quotes etc. in
    `drop` and the query's own drop left out) or value; None when none matches."""
    for query in queries:
        raw, elements = _raw(el, query)
        if elements:
            node = elements[-1] if query.pick == "last" else elements[0]
            drops = ", ".join(d for d in (drop, query.drop) if d)
            return node, clean_lines(node_text(Selector(root=node), drop=drops or None))
        got = [v for r in raw if (v := _finish(r, query)) is not None] if query.json_key is None else []
        if query.json_key is not None:  # JSON text keeps its line breaks
            got = [v for r in raw if (v := _json_key(r, query.json_key))]
        if got:
            return None, clean_lines(got[-1] if query.pick == "last" else got[0])
    return None


def title_of(el: etree._Element, queries: Iterable[Query]) -> tuple[str, list[str]]:
    """A page title: a heading element's own text with its prefixes/labels
    apart ("[Gelöst] Title" -> ("Title", ["Gelöst"])), or a value."""
    for query in queries:
        raw, elements = _raw(el, query)
        for heading in elements:
            title, labels = title_and_labels(Selector(root=heading))
            if title:
                return title, labels
        if not elements and (got := [v for r in raw if (v := _finish(r, query))]):
            return got[0], []
    return "", []


# --- records ---------------------------------------------------------------------


def _number(raw: str | None, pattern: str) -> int | None:
    m = re.search(pattern, raw or "")
    return int(m.group(1)) if m else None


def _read(rule: PostRule, rec: etree._Element, others: set[etree._Element]) -> Record:
    own = own_copy(rec, others) if rule.threaded and others else rec
    meta = first_node(own, rule.meta_scope)
    scope = meta[0] if meta else own
    body = read_text(own, rule.body, rule.drop)
    badges = all_values(own, rule.badge) if rule.join_badges else [b] if (b := first_value(own, rule.badge)) else []
    return Record(
        node=rec,
        author=first_value(scope, rule.author),
        raw_date=first_value(scope, rule.date),
        shown_date=first_value(scope, rule.date_shown),
        body=body[0] if body else None,
        text=body[1] if body else "",
        permalink=first_value(scope, rule.permalink),
        anchor=first_value(own, rule.anchor),
        number=_number(first_value(own, rule.number), rule.number_pattern),
        badge=" / ".join(badges) or None,
    )


def read_records(rule: PostRule, root: etree._Element) -> list[Record]:
    """Every record of `rule` under `root`, in page order, with its fields,
    its parent (threaded rules) and its children (a nested rule)."""
    found = [el for el in rule.record_xpath(root) if isinstance(el, etree._Element)]
    if rule.require_xpath is not None:
        found = [el for el in found if rule.require_xpath(el)]
    members = set(found) if rule.threaded else set()
    index = {el: i for i, el in enumerate(found)}
    out = []
    for el in found:
        record = _read(rule, el, members - {el})
        if rule.threaded:
            record.parent = next((index[a] for a in el.iterancestors() if a in index), None)
        if rule.children is not None:
            record.children = read_records(rule.children, el)
        out.append(record)
    return out


def has_posts(records: list[Record]) -> bool:
    """Whether an engine's rule read anything: a record with text."""
    return any(r.text.strip() for r in records)


def pick_engine(engines: Iterable[Engine], root: etree._Element) -> tuple[Engine | None, list[Record]]:
    """The engine whose post rule reads this page, and its records: engines the
    page names (detect markers) first, then the rest in their order; the first
    rule that finds records wins."""
    engines = [e for e in engines if e.posts is not None]
    named = [e for e in engines if e.detected(root)]
    ordered = named + [e for e in engines if e not in named and not e.only_when_detected]
    for engine in ordered:
        assert engine.posts is not None
        if records := read_records(engine.posts, root):
            return engine, records
    return None, []


_CARD_TEXTS = ("text", "reply_text")
_CARD_VALUES = (
    "author",
    "title",
    "date",
    "url",
    "company",
    "review_id",
    "language",
    "rating",
    "reply_author",
    "reply_date",
)


def read_cards(rule: ReviewRule, root: etree._Element) -> list[dict[str, str | None]]:
    """Every review card of `rule` under `root`: its values by field name
    (texts readable, with line breaks; "" when absent, other fields None)."""
    cards = []
    for el in rule.record_xpath(root):
        if not isinstance(el, etree._Element):
            continue
        card: dict[str, str | None] = {name: first_value(el, getattr(rule, name)) for name in _CARD_VALUES}
        for name in _CARD_TEXTS:
            got = read_text(el, getattr(rule, name))
            card[name] = got[1] if got else ""
        cards.append(card)
    return cards


def resolve_date(
    raw: str | None, shown: str | None, parse: Callable[[str], datetime | str | None]
) -> datetime | str | None:
    """A post's date from its machine-readable value and the one it shows:
    the machine value when it carries a time of day (with the offset the
    shown wall-clock time implies, when the page shows one without its own);
    else the shown date and time (on the machine value's day, when both are
    there)."""
    machine = parse(raw) if raw else None
    if shown and (raw is None or not _has_time(raw) or not isinstance(machine, datetime)):
        on_day = _same_day(parse(shown.rstrip(": ")), machine)
        return on_day or machine or parse(shown)
    if isinstance(machine, datetime) and shown:
        return local_offset(machine, shown, parse)
    return machine


_EPOCH = re.compile(r"^\d{9,13}(?:\.\d+)?$")


def _has_time(raw: str) -> bool:
    """Whether a machine-readable date carries a time of day ("2020-12-24" does not; Unix time does)."""
    return bool(re.search(r"\d[T ]\d{1,2}:\d{2}", raw) or _EPOCH.match(raw.strip()))


def _same_day(shown: Any, machine: Any) -> datetime | None:
    """The shown date-and-time when it is a datetime on the machine-readable
    date's day (or there is none): it adds the time the attribute leaves out."""
    if not isinstance(shown, datetime):
        return None
    if isinstance(machine, datetime) and shown.date() != machine.date():
        return None
    return shown
