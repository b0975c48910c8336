"""Generic thread extraction for pages no engine rule knows.

A thread page (forum topic, blog post with comments, news article with a
comment section, review list) shows its posts as *data records*: repeated
subtrees of the same shape, each carrying an author, a date and a text body.
This module finds them the way MDR / DEPTA-style data-region mining does, kept
simple:

1. every element gets a signature: its tag and first class token (digits
   stripped, so ``row1``/``row2`` or ``depth-1``/``depth-2`` are one shape),
   under its parent's tag (table rows of different tables stay apart);
2. elements sharing a signature are candidate records; a record's own content
   is its subtree minus the nested records of the same group (threaded
   replies), read for an author-like element (profile links, ``author`` /
   ``user`` / ``name`` classes, ``cite``, ``itemprop=author``), a date-like
   string (``time[datetime]``, ``title`` attributes, date classes, then date
   patterns in the text; parsed with dateparser via
   :func:`crawlers.extraction.dates.parse_published`) and a text body (the
   largest content-like element, else what is left);
3. the group whose records best carry author + date + text wins.

The opening post: on a forum the first record; on an article page (the main
text trafilatura finds is not the first record) the article itself, from the
page's metadata (og:/JSON-LD/htmldate via :mod:`crawlers.extraction.metadata`)
and trafilatura's main text, with the records as its comments. The title is
og:title, else the first h1, else <title>.

Texts leave out quotes of earlier posts (blockquote, ``quote`` classes),
signatures, edit notes, share bars, tag lists and buttons. Dates keep the
page's offset when it shows one; a wall-clock time without one is read in
`default_tz` (the forum's local time the crawl was told, UTC by default).
"""

from __future__ import annotations

import copy
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree
from lxml import html as lxml_html
from parsel import Selector

from crawlers.extraction.dates import page_timezone, page_year, parse_published, year_less
from crawlers.extraction.metadata import page_meta
from crawlers.extraction.text import clean_lines, main_text, node_text, title_and_labels, without_title

log = logging.getLogger(__name__)

_JUNK_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "select", "textarea", "button", "input")
_SKIP_SIG_TAGS = frozenset({"html", "body", "head", "a", "span", "b", "i", "em", "strong", "br", "img", "p", "font"})

_AUTHOR_CLASS = re.compile(
    r"author|username|nickname|postername|commenter|byline"
    r"|(^|[-_ ])(user|uname|nick|poster|fn|name|member|by)([-_ ]|$)",
    re.I,
)
_NOT_AUTHOR_CLASS = re.compile(
    r"avatar|title|rank|info|stats|karma|rating|score|count|group|joined|role|journal|homepage|website", re.I
)
_PROFILE_HREF = re.compile(
    r"(/users?/|/members?/|/profiles?/|/u/|/people/|/author/|viewprofile|showprofile|memberlist|member\.php|"
    r"profile\.php|showuser(?![a-z])|/~|action=profile|[?&;](?:u|uid|userid|user_id|memberid)=\d)",
    re.I,
)
_DATE_CLASS = re.compile(r"date|time|posted|stamp|when|published|created|datetime|postdetails", re.I)
_BODY_CLASS = re.compile(
    r"content|body|text|message|entry|postbody|post_body|usertext|comment-text|md\b|msg|bbwrapper|post-?text", re.I
)
_DROP_CLASS = re.compile(
    r"(^|[-_ ])(quote|quotes|signature|sig|signatur|share|sharing|social|tags?|taglist|edit|edited|lastedit|reply|"
    r"replies|actions|buttons?|toolbar|controls|report|vote|votes|rating|footer|meta|attachment|attach|sponsor|"
    r"sponsored|advert|ad|ads|banner|related|nav|navigation|breadcrumbs?|pagination|like|likes|karma|badge|"
    r"avatar|userinfo|user-info|postprofile|profile|details|header|permalink|hidden)([-_ ]|$)",
    re.I,
)
_DROP_CSS = "blockquote, q, .quote, .bbCodeQuote, .signature, .sig, nav, aside, footer, form"

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|"
    r"nov(?:ember)?|dec(?:ember)?|январ\w*|феврал\w*|март\w*|апрел\w*|ма[йя]|июн\w*|июл\w*|август\w*|сентябр\w*|"
    r"октябр\w*|ноябр\w*|декабр\w*|янв|фев|апр|авг|сен|окт|ноя|дек|januar|februar|märz|mai|juni|juli|oktober|"
    r"dezember"
)
_TIME = (
    r"(?:\s*(?:,|at|в|um|@|\||-|—)?\s*\d{1,2}[:.]\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?"
    r"(?:\s*(?:UTC|GMT|EST|EDT|CST|CDT|MST|MDT|PST|PDT|BST|CET|CEST|MSK)\b(?:[+-]\d{1,4})?)?)?"
)
_CLOCK_TIME = r"\s*(?:,|at|в|um|@|\||-|—)?\s*@?\s*\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?(?![\d:])"
_DATE_RE = re.compile(
    r"(?:"
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?"
    r"|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}" + _TIME + r"|(?:(?:mon|tue|wed|thu|fri|sat|sun)\w*,?\s+)?"
    r"\d{1,2}(?:st|nd|rd|th)?\.?\s+(?:"
    + _MONTHS
    + r")\.?,?\s+\d{4}"
    + _TIME
    + r"|(?:(?:mon|tue|wed|thu|fri|sat|sun)\w*,?\s+)?"
    r"(?:"
    + _MONTHS
    + r")\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
    + _TIME
    + r"|(?:сегодня|вчера|today|yesterday|heute|gestern),?\s*(?:в\s*)?\d{1,2}:\d{2}"
    # no year shown ("Monday July 23, @08:25PM", "23 июля в 20:25"): only with a time of day
    r"|(?:(?:mon|tue|wed|thu|fri|sat|sun)\w*,?\s+)?(?:"
    + _MONTHS
    + r")\.?\s+\d{1,2}(?:st|nd|rd|th)?,?"
    + _CLOCK_TIME
    + r"|\d{1,2}(?:st|nd|rd|th)?\.?\s+(?:"
    + _MONTHS
    + r")\.?,?"
    + _CLOCK_TIME
    + r")",
    re.I,
)
DATE_PATTERN = _DATE_RE  # what a shown date looks like (crawlers.extraction.metadata reads bylines with it)
_AUTHOR_STRIP = re.compile(
    r"^(?:by|posted by|от|автор:?|von)\s+|\s*(?:said|says|wrote|пишет|писал|schrieb)\s*[.:…]*\s*$|[:：]\s*$", re.I
)
_SIG_LINE = re.compile(r"^_{5,}\s*$|^-- ?$")
_EDIT_LINE = re.compile(
    r"^(?:last edited by|edited by|сообщение отредактировал|причина редактирования|zuletzt bearbeitet)", re.I
)
# A quote's header left behind once the quoted text is dropped ("Quote:", "scott wrote:").
_QUOTE_HEADER = re.compile(r"^(?:quote|zitat|цитата)\s*:?$|^\S.{0,60}\s(?:wrote|schrieb|пишет|писал\w*)\s*:$", re.I)


@dataclass(slots=True)
class GenericPost:
    author: str | None
    published: datetime | None
    raw_date: str | None
    text: str
    anchor: str | None = None  # the record's id attribute (for a stable #fragment URL)
    permalink: str | None = None  # a link of the record to the post itself (its own page or #fragment)


@dataclass(slots=True)
class GenericThread:
    title: str = ""
    article: GenericPost | None = None  # the opening post / article when it is not a record
    posts: list[GenericPost] = field(default_factory=list)  # records in page order
    signature: str | None = None  # which repeated shape the records were

    @property
    def all_posts(self) -> list[GenericPost]:
        return ([self.article] if self.article else []) + self.posts


# --- helpers -----------------------------------------------------------------


def _classes(el: etree._Element) -> list[str]:
    return (el.get("class") or "").split()


def _signature(el: etree._Element) -> str | None:
    tag = el.tag if isinstance(el.tag, str) else ""
    if not tag or tag in _SKIP_SIG_TAGS:
        return None
    cls = _classes(el)
    first = re.sub(r"\d+", "", cls[0]) if cls else ""
    parent = el.getparent()
    ptag = parent.tag if parent is not None and isinstance(parent.tag, str) else ""
    if not first and tag in ("div", "li", "td", "section", "ul", "ol"):
        # a bare element: its id pattern is its shape (post_123, comment-45, p6789)
        ident = re.sub(r"\d+", "#", el.get("id") or "")
        if "#" not in ident:
            return None
        return f"{ptag}>{tag}#{ident}"
    if not first and tag != "tr" and tag != "article":
        return None
    if tag in ("tr", "td", "table"):
        # table layouts nest tables in cells: a row of an inner table is layout
        # inside a post, not a post threaded under it (as nested <li>s are)
        depth = sum(1 for a in el.iterancestors() if a.tag == "table")
        return f"{ptag}>{tag}.{first}@{depth}"
    return f"{ptag}>{tag}.{first}"


def _text_of(el: etree._Element) -> str:
    return " ".join(" ".join(el.itertext()).split())


def _clean_author(raw: str) -> str | None:
    text = " ".join(raw.replace("\xa0", " ").split())
    for _ in range(2):
        text = _AUTHOR_STRIP.sub("", text).strip()
    text = re.sub(r"\s*\(\d+\)$", "", text).strip(" :,|·•-—")  # a user id printed after the name
    if not text or len(text) > 60 or len(text.split()) > 6 or not re.search(r"\w", text):
        return None
    if _DATE_RE.search(text) or re.fullmatch(r"[\d\s#.,]+", text):
        return None
    low = text.lower()
    if re.search(r"\b(reply|login|log in|sign in|register|quote|report|permalink|share)\b", low) or low in {
        "link",
        "ответить",
        "цитата",
        "profile",
        "pm",
    }:
        return None
    return text


def _own_iter(record: etree._Element, others: set[etree._Element]):
    """Descendants of `record` (document order), not descending into other records."""
    stack = list(reversed(list(record)))
    while stack:
        el = stack.pop()
        if el in others:
            continue
        yield el
        stack.extend(reversed(list(el)))


def own_copy(record: etree._Element, others: set[etree._Element]) -> etree._Element:
    """A copy of `record` without the nested records (threaded replies)."""
    if not any(el in others for el in record.iterdescendants()):
        return copy.deepcopy(record)
    marks = []
    for el in record.iterdescendants():
        if el in others:
            marks.append(el)
    # temporarily detach, copy, re-attach
    placed = []
    for el in marks:
        parent = el.getparent()
        if parent is None or any(a in marks for a in el.iterancestors()):
            continue
        placed.append((parent, parent.index(el), el))
    for parent, _, el in placed:
        parent.remove(el)
    try:
        return copy.deepcopy(record)
    finally:
        for parent, index, el in reversed(placed):
            parent.insert(index, el)


def _find_author(elements: list[etree._Element]) -> tuple[str | None, etree._Element | None]:
    # 1. explicit markup
    for el in elements:
        if el.get("itemprop") == "author" or el.get("rel") == "author" or el.tag == "cite":
            names = [e for e in el.iter() if e.get("itemprop") == "name"]
            if got := _clean_author(_name_text(names[0] if names else el)):
                return got, el
    # 2. author-like classes, the innermost first
    for el in elements:
        classes = " ".join(_classes(el))
        if classes and _AUTHOR_CLASS.search(classes) and not _NOT_AUTHOR_CLASS.search(classes):
            inner = [
                e
                for e in el.iterdescendants()
                if isinstance(e.tag, str)
                and (
                    (
                        _AUTHOR_CLASS.search(" ".join(_classes(e)))
                        and not _NOT_AUTHOR_CLASS.search(" ".join(_classes(e)))
                    )
                    or (e.tag == "a" and _PROFILE_HREF.search(e.get("href") or ""))
                )
            ]
            for cand in [*inner, el]:
                if got := _clean_author(_name_text(cand)):
                    return got, cand
            # a plain-text name beside the avatar and the date link ("Ammon · <a>March 11</a>")
            own = " ".join([el.text or "", *(c.tail or "" for c in el)])
            if got := _clean_author(own.replace("·", " ").replace("|", " ")):
                return got, el
    # 3. profile links
    for el in elements:
        if el.tag == "a" and _PROFILE_HREF.search(el.get("href") or ""):
            if got := _clean_author(_name_text(el)):
                return got, el
    # 4. a name after a byline label ("Posted by: <a>Name</a> |", "von <b>Name</b>"),
    # as an element or as plain text ("Posted by: Name | <a>date</a>")
    for el in elements:
        before = _text_before(el)
        if el.tag in _BYLINE_TAGS and _BYLINE_LABEL.search(before) and not _CREDIT_LABEL.search(before):
            if got := _clean_author(_name_text(el)):
                return got, el
    for el in elements:
        if (m := _BYLINE_TEXT.search(" ".join((el.text or "").split()))) and (got := _clean_author(m[1])):
            return got, el
    return None, None


_BYLINE_TAGS = frozenset({"a", "b", "strong", "span", "cite", "em"})
_BYLINE_LABEL = re.compile(
    r"(?:^|[\s|(])(?:posted by|written by|comment by|by|von|geschrieben von|автор|от|написал)\s*:?\s*$", re.I
)


# "Powered by <a>phpBB</a>", "Theme by …": a credit, not a byline.
_CREDIT_LABEL = re.compile(
    r"(?:powered|designed|theme|template|hosted|provided|made|created|developed|built|sponsored|run|skin|translated)"
    r"\s+by\s*:?\s*$",
    re.I,
)
_BYLINE_TEXT = re.compile(r"(?:^|\s)(?:posted by|written by|comment by)\s*:?\s*([^|\n]{1,60}?)\s*(?:\||$)", re.I)


def _text_before(el: etree._Element) -> str:
    """The text right before an element inside its parent (its previous
    sibling's tail, or the parent's leading text)."""
    prev = el.getprevious()
    while prev is not None and not isinstance(prev.tag, str):
        prev = prev.getprevious()
    if prev is not None:
        return prev.tail or ""
    parent = el.getparent()
    return (parent.text or "") if parent is not None else ""


def _name_text(el: etree._Element) -> str:
    """Text of an author element without icon glyphs and badges inside it."""
    parts = [el.text or ""]
    for child in el:
        classes = " ".join(_classes(child))
        if not re.search(r"icon|glyph|fa-|badge|flair|userattrs|sr-only", classes):
            parts.append(_name_text(child))
        parts.append(child.tail or "")
    return " ".join(" ".join(parts).split())


def _find_date(
    elements: list[etree._Element],
    own_text: str,
    languages: list[str] | None,
    default_tz: str,
    year: int | None = None,
) -> tuple[datetime | None, str | None, etree._Element | None]:
    def parse(raw: str | None) -> datetime | None:
        if not raw or not raw.strip():
            return None
        return parse_published(raw, languages=languages, default_tz=default_tz, year=year)

    for el in elements:
        if el.tag == "time" or el.get("itemprop") in ("datePublished", "dateCreated"):
            for raw in (el.get("datetime"), el.get("content"), el.get("title")):
                if raw and (dt := parse(raw)):
                    return dt, raw, el
            raw = _text_of(el)
            if raw and (m := _DATE_RE.search(raw)) and (dt := parse(m.group(0))):
                return dt, m.group(0), el
    for el in elements:
        if el.tag == "abbr" and (raw := el.get("title")) and _DATE_RE.search(raw) and (dt := parse(raw)):
            return dt, raw, el
    classed: list[tuple[datetime, str, etree._Element]] = []
    for el in elements:
        classes = " ".join(_classes(el))
        if classes and _DATE_CLASS.search(classes):
            raw = _text_of(el)
            if (m := _post_date(raw)) and (dt := parse(m.group(0))):
                classed.append((dt, m.group(0), el))
                continue
            for attr in ("title", "data-time", "data-timestamp"):
                if (v := el.get(attr)) and (dt := parse(v)):
                    classed.append((dt, v, el))
                    break
    if classed:  # a date with its time of day (when posted) beats a bare one (a profile's "Joined" line)
        return next((c for c in classed if _CLOCK.search(c[1])), classed[0])
    for el in elements:  # the innermost element whose own text shows a date
        own = " ".join(" ".join([el.text or ""] + [c.tail or "" for c in el]).split())
        if own and (m := _post_date(own)) and (dt := parse(m.group(0))):
            return dt, m.group(0), el
    if m := _post_date(own_text):
        if dt := parse(m.group(0)):
            return dt, m.group(0), None
    return None, None, None


_CLOCK = re.compile(r"\d{1,2}[:.]\d{2}")
# A date a profile block prints beside the author, not when the post was written.
_PROFILE_DATE = re.compile(
    r"(?:joined|registered|member since|reg\.?|регистрация|зарегистрирован\w*|с нами|dabei seit|mitglied seit|"
    r"registriert(?: seit)?|anmeldedatum)\s*:?\s*$",
    re.I,
)


_PROFILE_FIELD = re.compile(
    r"(?:joined|registered|member since|регистрация|зарегистрирован\w*|dabei seit|mitglied seit|registriert seit|"
    r"anmeldedatum)\s*:"
    r"|(?:posts|beiträge|сообщений|messages|reputation|репутация)\s*:\s*\d[\d.,]*",
    re.I,
)


def _is_profile(el: etree._Element) -> bool:
    """A short author profile block ("Joined: …, Posts: …"), not the post's words."""
    text = " ".join(el.itertext())
    return len(text) < 400 and bool(_PROFILE_FIELD.search(text))


def _post_date(text: str) -> re.Match[str] | None:
    """The first date pattern in `text` that is not a profile's join date."""
    for m in _DATE_RE.finditer(text):
        if not _PROFILE_DATE.search(text[max(0, m.start() - 30) : m.start()]):
            return m
    return None


def _strip_for_body(node: etree._Element, author_date_text: tuple[str | None, str | None]) -> None:
    for el in list(node.iter()):
        if el is node or not isinstance(el.tag, str):
            continue
        if el.getparent() is None:
            continue
        classes = " ".join(_classes(el))
        if el.tag in _JUNK_TAGS or el.tag in ("blockquote", "q", "nav", "aside", "footer", "cite", "time"):
            _drop(el)
        elif classes and _DROP_CLASS.search(classes) and not _BODY_CLASS.search(classes):
            _drop(el)


def _drop(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    if el.tail and el.tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


_META = "data-gx-meta"
_HOLDS = "data-gx-holds"
_CONTAINERS = frozenset("div td section article main span p ul ol dd table tbody tr font".split())


def _text_len(el: etree._Element) -> int:
    return len("".join("".join(el.itertext()).split()))


def _body_text(own: etree._Element, author: str | None) -> str:
    """The post's own words: the largest block of the record that holds neither
    the author nor the date element (a content-like class wins a near tie), else
    the record without those; quotes, signatures and chrome dropped."""
    node = copy.deepcopy(own)
    for m in [e for e in node.iter() if isinstance(e.tag, str) and e.get(_META)]:
        for a in m.iterancestors():  # what holds the author or date, even once chrome around it is dropped
            a.set(_HOLDS, "1")
    _strip_for_body(node, (author, None))
    metas = [e for e in node.iter() if isinstance(e.tag, str) and e.get(_META)]
    meta_len = sum(_text_len(m) for m in metas if not any(a in metas for a in m.iterancestors()))
    total = _text_len(node) - meta_len
    blocked = {e for e in node.iter() if isinstance(e.tag, str) and e.get(_HOLDS)}
    for m in metas:
        blocked.add(m)
        blocked.update(m.iterancestors())
    candidates = [
        e
        for e in node.iterdescendants()
        if isinstance(e.tag, str) and e.tag in _CONTAINERS and e not in blocked and not any(m in blocked for m in [e])
    ]
    candidates = [
        e
        for e in candidates
        if not any(d in metas for d in e.iterdescendants())
        and not any(a in metas for a in e.iterancestors())  # inside the author block (its menu, its profile)
        and not _is_profile(e)
    ]
    best = None
    if candidates and total > 0:
        longest = max(_text_len(e) for e in candidates)
        if longest >= 0.5 * total:
            near = [e for e in candidates if _text_len(e) >= 0.8 * longest]
            classed = [e for e in near if _BODY_CLASS.search(" ".join(_classes(e)) + " " + (e.get("itemprop") or ""))]
            best = (classed or near)[0]  # document order: the outermost of equals
        else:  # a short post beside a comment title and links: its body-classed block, if any
            classed = [
                e for e in candidates if _BODY_CLASS.search(" ".join(_classes(e))) and _text_len(e) >= 0.15 * total
            ]
            best = max(classed, key=_text_len, default=None)
    if best is None:
        best = node
        for m in metas:
            if m.getparent() is not None and (_text_len(m) < 200 or _is_profile(m)):
                _drop(m)
        for el in list(node.iter()):
            if el is node or not isinstance(el.tag, str) or el.getparent() is None:
                continue
            classes = " ".join(_classes(el))
            if classes and (_AUTHOR_CLASS.search(classes) or _DATE_CLASS.search(classes)) and _text_len(el) < 120:
                _drop(el)
    text = node_text(Selector(root=best))
    lines = []
    for line in text.split("\n"):
        if _SIG_LINE.match(line.strip()):
            break
        if _EDIT_LINE.match(line.strip()) or _QUOTE_HEADER.match(line.strip()):
            continue
        lines.append(line)
    text = clean_lines("\n".join(lines))
    if author and text.startswith(author):  # a name printed above the text inside the body
        rest = text[len(author) :].lstrip(" :,\n")
        if rest:
            text = rest
    return text


def _link_list(own: etree._Element) -> bool:
    """A block that is mostly links (a "related news" list, a menu), not a post:
    three or more headline-like links making up over 70 % of its text outside
    the author and date, once its signature and chrome are left out (the link
    density boilerplate detectors use)."""
    own = copy.deepcopy(own)
    _strip_for_body(own, (None, None))
    metas = [e for e in own.iter() if isinstance(e.tag, str) and e.get(_META)]
    inside_meta = {d for m in metas for d in m.iter()}
    total = _text_len(own) - sum(_text_len(m) for m in metas if not any(a in inside_meta for a in m.iterancestors()))
    anchors = [a for a in own.iter("a") if a not in inside_meta and not any(p.tag == "a" for p in a.iterancestors())]
    linked = sum(_text_len(a) for a in anchors)
    return total >= 80 and len([a for a in anchors if _text_len(a) >= 15]) >= 3 and linked > 0.7 * total


def _has_body_block(parts: list[etree._Element]) -> bool:
    """Whether any of `parts` holds a text block with a content-like class."""
    return any(
        isinstance(e.tag, str)
        and _BODY_CLASS.search(" ".join(_classes(e)))
        and _text_len(e)
        and not any(a.get(_META) for a in e.iterancestors())  # an icon in the author's block is not a body
        and not e.get(_META)
        for part in parts
        for e in part.iter()
    )


def _author_block(author_el: etree._Element, date_el: etree._Element | None, rec: etree._Element) -> etree._Element:
    """The author element with what surrounds it in the record's author block:
    a profile ("Lead Developer, Posts: 7,747") or a small wrapper, never
    reaching the date or the record itself (the text is elsewhere)."""
    block = author_el
    for a in author_el.iterancestors():
        if a is rec or (date_el is not None and any(x is date_el for x in a.iter())):
            break
        if not (_is_profile(a) or _text_len(a) <= _text_len(author_el) + 40):
            break
        block = a
    return block


def _with_siblings(rec: etree._Element, members: set[etree._Element]) -> list[etree._Element]:
    """A record plus the following siblings up to the next record (DEPTA's
    generalised node: header and body as separate siblings)."""
    base = rec
    while (parent := base.getparent()) is not None and parent.tag != "body":
        if len([c for c in parent if isinstance(c.tag, str)]) != 1 or parent in members:
            break
        base = parent
    out = [rec]
    sib = base.getnext()
    while sib is not None and sib not in members and len(out) < 4:
        if isinstance(sib.tag, str):
            if any(d in members for d in sib.iterdescendants()):
                break
            out.append(sib)
        sib = sib.getnext()
    return out


# A link that names one post: a number of 4+ digits as its id ("…-r6308239-…",
# "?cid=40743959", "#comment-7443", "/p/123456").
_POST_ID_HREF = re.compile(
    r"(?:[#?&/_-](?:p|r|c|id|cid|pid|post|postid|msg|comment|comments|review|reviews|reply|answer)?[-_=]?)\d{4,}(?!.*/\d)",
    re.I,
)


def _permalink(elements: list[etree._Element]) -> str | None:
    """The record's link to itself: the first link whose address carries a
    post id, not a profile, reply, share or vote link."""
    for el in elements:
        href = el.get("href") if el.tag == "a" else None
        if not href or href.startswith(("javascript:", "mailto:")) or _PROFILE_HREF.search(href):
            continue
        if re.search(r"reply|replyto|quote|share|sharer|intent|vote|report|flag|login|op=", href, re.I):
            continue
        if _POST_ID_HREF.search(href):
            return href
    return None


# --- records ---------------------------------------------------------------------


@dataclass(slots=True)
class _Group:
    signature: str
    records: list[etree._Element]
    posts: list[GenericPost]
    score: float


def _read_group(
    signature: str,
    members: list[etree._Element],
    languages: list[str] | None,
    default_tz: str,
    year: int | None = None,
) -> _Group:
    member_set = set(members)
    posts = []
    kept = []
    for rec in members:
        others = member_set - {rec}
        elements = [e for e in _own_iter(rec, others) if isinstance(e.tag, str)]
        author, author_el = _find_author(elements)
        own = own_copy(rec, others)
        for junk in [e for e in own.iter() if isinstance(e.tag, str) and e.tag in ("script", "style", "noscript")]:
            _drop(junk)
        own_text = _text_of(own)
        published, raw, date_el = _find_date(elements, own_text, languages, default_tz, year)
        block = _author_block(author_el, date_el, rec) if author_el is not None else None
        marked = [e for e in (block, date_el) if e is not None]
        for e in marked:
            e.set(_META, "1")
        try:
            own = own_copy(rec, others)
            text = "" if _link_list(own) else _body_text(own, author)
            group = _with_siblings(rec, member_set) if text else []
            if len(group) > 1:
                wrapper = etree.Element("div")
                for part in group:
                    wrapper.append(own_copy(part, others))
                wider = _body_text(wrapper, author)
                # the record is a header and its body a sibling block named so (IPB's post_header + post_body)
                named_body = _has_body_block(group[1:]) and not _has_body_block([own])
                if len(wider) > 3 * len(text) + 20 or (named_body and wider):
                    text = wider
        finally:
            for e in marked:
                e.attrib.pop(_META, None)
        if not text or (author is None and published is None):
            continue
        anchor = rec.get("id") or next((e.get("id") or e.get("name") for e in elements[:3] if e.tag == "a"), None)
        posts.append(GenericPost(author, published, raw, text, anchor, _permalink(elements)))
        kept.append(rec)
    n = len(posts)
    if n and sum(p.author is not None for p in posts) >= 0.75 * n:
        # most records name their author: one that does not is chrome of the same shape
        pairs = [(r, p) for r, p in zip(kept, posts, strict=True) if p.author is not None]
        kept, posts = [r for r, _ in pairs], [p for _, p in pairs]
        n = len(posts)
    with_author = sum(p.author is not None for p in posts)
    with_date = sum(p.published is not None for p in posts)
    long_text = sum(len(p.text) >= 20 for p in posts)
    score = 0.0
    if n >= 2 and with_author >= 0.5 * n and with_date >= 0.5 * n and long_text >= 0.5 * n:
        score = with_author + with_date + long_text
    return _Group(signature, kept, posts, score)


def find_records(
    root: etree._Element, languages: list[str] | None = None, default_tz: str = "UTC", year: int | None = None
) -> _Group | None:
    groups: dict[str, list[etree._Element]] = defaultdict(list)
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        sig = _signature(el)
        if sig:
            groups[sig].append(el)
    best: _Group | None = None
    for sig, members in groups.items():
        if len(members) < 2 or len(members) > 3000:
            continue
        # cheap pre-filter: enough text and some date-like string somewhere
        if sum(1 for m in members[:50] if _DATE_RE.search(_text_of(m)) or m.xpath(".//time|.//*[@datetime]")) < 2:
            continue
        group = _read_group(sig, members, languages, default_tz, year)
        if group.score and (
            best is None
            or group.score > best.score
            or (group.score == best.score and _contains(group.records, best.records))
        ):
            best = group
    return best


def _contains(outer: list[etree._Element], inner: list[etree._Element]) -> bool:
    return bool(outer and inner) and any(a in set(outer) for a in inner[0].iterancestors())


# --- the thread --------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())[:12]


def page_title(sel: Selector) -> str:
    for q in ('meta[property="og:title"]::attr(content)', "h1 ::text", "title::text"):
        got = " ".join(" ".join(sel.css(q).getall()).split()) if q != "h1 ::text" else ""
        if q == "h1 ::text" and (h1 := sel.css("h1")):
            got = title_and_labels(h1[0])[0]  # thread prefixes/labels are not the title
        if got:
            return got
    return ""


def extract_thread(
    html: str, url: str | None = None, languages: list[str] | None = None, default_tz: str = "UTC"
) -> GenericThread:
    """Title, opening post/article and the repeated posts of a page. Never raises
    on odd markup (returns what it found, possibly nothing)."""
    thread = GenericThread()
    try:
        root = lxml_html.fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        log.debug("generic: unparseable page %s: %s", url, exc)
        return thread
    for el in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        _drop(el)
    for el in [
        e for e in root.iter() if isinstance(e.tag, str) and e.tag in ("script", "style", "noscript", "template")
    ]:
        _drop(el)
    sel = Selector(text=html, base_url=url or "")
    default_tz = page_timezone(html) or default_tz  # "All times are GMT - 6 Hours": the page says
    thread.title = page_title(sel)
    group = find_records(root, languages, default_tz, _page_year(sel, html, url))
    posts = group.posts if group else []
    thread.signature = group.signature if group else None
    if group is None or not posts:
        rest_html = html
    else:
        # the page without its records: what is left is the article above them, if any
        for rec in group.records:
            if rec.getparent() is not None and not any(a in set(group.records) for a in rec.iterancestors()):
                _drop(rec)
        rest_html = etree.tostring(root, encoding="unicode", method="html")
        if not _looks_like_article(Selector(text=rest_html)):
            thread.posts = posts  # a list of posts (a forum, reviews) with no article above them
            return thread
    article_text = main_text(rest_html, None, url)
    if posts and (len(article_text) < 80 or _overlaps(article_text, posts[0].text)):
        thread.posts = posts
        return thread
    meta = page_meta(sel, url or "", html, languages)
    if meta.title and not thread.title:
        thread.title = meta.title
    article_text = without_title(article_text, meta.title or thread.title)
    if article_text:
        thread.article = GenericPost(meta.author, meta.published, None, article_text)
    thread.posts = posts
    return thread


_ARTICLE_MARKS = (
    'meta[property="og:type"][content*="article"]',
    'meta[property="article:published_time"]',
    "[itemprop=articleBody]",
    "article",
    ".hentry",
    ".entry-content",
    ".post-body",
)


_YEARFUL_META = (
    'meta[property="article:published_time"]::attr(content)',
    'meta[itemprop="datePublished"]::attr(content)',
    "[itemprop=datePublished]::attr(datetime)",
    "time[datetime]::attr(datetime)",
)


def _page_year(sel: Selector, html: str, url: str | None) -> int | None:
    """The year for dates the page shows without one (crawlers.extraction.dates.page_year)."""
    published = None
    for raw in sel.css(", ".join(_YEARFUL_META)).getall()[:1]:
        if not year_less(raw):
            published = parse_published(raw)
    canonical = sel.css('link[rel="canonical"]::attr(href), meta[property="og:url"]::attr(content)').get()
    return page_year(html, (url, canonical), published)


def _looks_like_article(sel: Selector) -> bool:
    if any(sel.css(q) for q in _ARTICLE_MARKS):
        return True
    return any(
        re.search(r'"@type"\s*:\s*"(News|Blog|Report)?(Article|Posting|BlogPosting)"', ld)
        for ld in sel.css('script[type="application/ld+json"]::text').getall()
    )


def _overlaps(article: str, text: str) -> bool:
    a, b = _words(article), re.findall(r"\w+", text.lower())
    if len(a) < 4:
        return False
    joined = " ".join(b)
    return " ".join(a[:8]) in joined


def to_dict(thread: GenericThread) -> dict[str, Any]:  # debugging aid
    return {
        "title": thread.title,
        "signature": thread.signature,
        "posts": [
            {"author": p.author, "published": p.published.isoformat() if p.published else None, "text": p.text[:80]}
            for p in thread.all_posts
        ],
    }
