"""Engine rules as data: one TOML file per forum/blog/review engine.

A file names the engine, how to recognise it (``detect``: CSS markers such as a
generator meta tag) and where its posts live (``[posts]``: the repeated record
and, per field, the queries that read author, date, body...). Page-level
selectors (title, next page, thread links of board indexes, the article body
of a blog post) go under ``[page]``; review cards under ``[reviews]``. The
reading is done by one rule-driven extractor, crawlers/extraction/rules.py;
the spiders never name an engine. Adding an engine = adding a file here and a
test on a real page of it.

A query is a CSS selector string (parsel's ``::text`` / ``::attr(name)``
included), ``"xpath:<expression>"``, or a table with options::

    date = [".postdate .date ::text", { css = "dl.userstats dd", match = '\\d{1,2}:\\d{2}' }]

Options: ``match`` (a regex the value must contain; ``group`` picks a group of
it as the value), ``json`` (the value is JSON: take this dotted key), ``param``
(the value is a URL: take this query parameter), ``value`` (a constant when
the query finds anything: a marker element), ``format`` (``"#{}"``: the value
put into a template), ``join`` (text nodes joined into one value, the default,
or each its own), ``pick`` (``first``/``last`` of the values), ``drop`` (for
text read from an element: CSS of what to leave out). A field's queries are
tried in order; the first that gives a value wins.

Files are validated when loaded (pydantic): an unknown field, a bad CSS
selector, XPath or regex is an :class:`EngineFileError` naming the file, the
engine and the field.
"""

from __future__ import annotations

import functools
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from cssselect.parser import SelectorError
from lxml import etree
from parsel.csstranslator import HTMLTranslator
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

_TRANSLATOR = HTMLTranslator()
_XPATH_PREFIX = "xpath:"


class EngineFileError(ValueError):
    """A bad engine file: which file, which engine, which field, what is wrong."""


def css_to_xpath(css: str) -> str:
    """CSS (with parsel's ::text/::attr) as an XPath relative to a node and
    including it, as parsel's ``Selector.css`` reads it."""
    return _TRANSLATOR.css_to_xpath(css, prefix="descendant-or-self::")


def _check_css(css: str) -> str:
    try:
        css_to_xpath(css)
    except (SelectorError, ValueError) as exc:
        raise ValueError(f"bad CSS selector {css!r}: {exc}") from exc
    return css


class Query(BaseModel):
    """One way to read a value (or a node) off a record or a page."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    css: str | None = None
    xpath: str | None = None
    match: str | None = None
    group: int = 0
    json_key: str | None = Field(default=None, alias="json")
    param: str | None = None
    value: str | None = None
    format: str | None = None
    join: bool | None = None
    pick: Literal["first", "last"] = "first"
    drop: str | None = None

    _compiled: etree.XPath = PrivateAttr()
    _regex: re.Pattern[str] | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            if data.startswith(_XPATH_PREFIX):
                return {"xpath": data[len(_XPATH_PREFIX) :].strip()}
            return {"css": data}
        return data

    @model_validator(mode="after")
    def _compile(self) -> Query:
        if (self.css is None) == (self.xpath is None):
            raise ValueError("a query has exactly one of css or xpath")
        if self.css is not None:
            _check_css(self.css)
        expression = css_to_xpath(self.css) if self.css is not None else self.xpath
        try:
            self._compiled = etree.XPath(expression, regexp=True)
        except etree.XPathError as exc:
            raise ValueError(f"bad XPath {expression!r}: {exc}") from exc
        if self.drop is not None:
            _check_css(self.drop)
        if self.match is not None:
            try:
                self._regex = re.compile(self.match, re.I)
            except re.error as exc:
                raise ValueError(f"bad regex {self.match!r}: {exc}") from exc
            if self.group > self._regex.groups:
                raise ValueError(f"group {self.group} but {self.match!r} has {self._regex.groups} groups")
        if self.format is not None and "{}" not in self.format:
            raise ValueError(f"format {self.format!r} has no {{}} for the value")
        return self

    @property
    def compiled(self) -> etree.XPath:
        return self._compiled

    @property
    def regex(self) -> re.Pattern[str] | None:
        return self._regex


Queries = list[Query]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumberUrl(_Strict):
    """Post URLs an engine builds from the post's number, on threads whose URL
    path matches `path` (Discourse: /t/<slug>/<id>/<number>)."""

    path: str
    template: str  # {thread} (the thread URL, no fragment or trailing slash) and {number}

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regex {value!r}: {exc}") from exc
        return value

    @field_validator("template")
    @classmethod
    def _check_template(cls, value: str) -> str:
        if "{number}" not in value or "{thread}" not in value:
            raise ValueError("the template needs {thread} and {number}")
        return value


class PostRule(_Strict):
    """The posts of a thread page: forum messages, or the comments under a blog
    article. Each record is one post; its fields are read from the record (or
    from ``meta_scope``, the record's header block, for author/date/badge)."""

    record: str  # CSS of the repeated post element
    require: str | None = None  # CSS a record must contain to count (skips look-alikes)
    threaded: bool = False  # records nest (replies inside comments): parents from nesting, own text only
    meta_scope: Queries = []  # where author/date/permalink/badge are read; the record when none matches
    author: Queries = []
    date: Queries = []  # a machine-readable date (attribute) or the shown one
    date_shown: Queries = []  # the date as shown, when `date` may lack the time of day or the offset
    body: Queries = []  # the post's own text: an element (its text, minus `drop`) or a value
    drop: str | None = None  # CSS inside the body that is not the author's words (quotes, edit notes)
    permalink: Queries = []
    anchor: Queries = []  # the post's own id on the page (a #fragment of its URL)
    number: Queries = []  # the forum's post counter ("#661"); see number_pattern
    number_pattern: str = r"#\s*(\d+)"
    number_url: NumberUrl | None = None
    badge: Queries = []
    join_badges: bool = False  # every badge found, joined with " / " (else the first)
    children: PostRule | None = None  # posts attached under each record (Stack Exchange comments)

    _record_xpath: etree.XPath = PrivateAttr()
    _require_xpath: etree.XPath | None = PrivateAttr(default=None)

    @field_validator("record", "require", "drop")
    @classmethod
    def _check_selectors(cls, value: str | None) -> str | None:
        return _check_css(value) if value is not None else None

    @field_validator("number_pattern")
    @classmethod
    def _check_pattern(cls, value: str) -> str:
        try:
            if re.compile(value).groups < 1:
                raise ValueError(f"number_pattern {value!r} needs a group for the number")
        except re.error as exc:
            raise ValueError(f"bad regex {value!r}: {exc}") from exc
        return value

    def model_post_init(self, __context: Any) -> None:
        self._record_xpath = etree.XPath(css_to_xpath(self.record))
        self._require_xpath = etree.XPath(css_to_xpath(self.require)) if self.require else None

    def url_from_number(self, thread_url: str, number: int | None) -> str | None:
        if not number or self.number_url is None:
            return None
        parts = urlsplit(thread_url)
        if not re.search(self.number_url.path, parts.path):
            return None
        thread = urlunsplit(parts._replace(fragment="")).rstrip("/")
        return self.number_url.template.format(thread=thread, number=number)

    @property
    def record_xpath(self) -> etree.XPath:
        return self._record_xpath

    @property
    def require_xpath(self) -> etree.XPath | None:
        return self._require_xpath


class Listing(_Strict):
    """A blog's listing page: several post containers, each with a link to its article."""

    container: str
    link: Query

    @field_validator("container")
    @classmethod
    def _check_container(cls, value: str) -> str:
        return _check_css(value)


class PageRule(_Strict):
    """Page-level selectors of an engine."""

    title: Queries = []  # a heading element (its labels kept apart) or a value
    next_page: Queries = []  # the thread's (or listing's) next page
    thread_links: Queries = []  # a board index: its threads
    subforum_links: Queries = []  # a board index: its sub-forums
    search_result_links: Queries = []  # a search results page: the threads of its hits
    article_body: Queries = []  # a blog article's text element
    article_author: Queries = []  # a blog article's author, when the page metadata does not name it
    single: list[str] = []  # <body> classes that mark a single-article page (not a listing)
    listing: list[Listing] = []


class ReviewRule(_Strict):
    """Review cards of a review site; fields as on a review (reply = the company's answer)."""

    record: str
    author: Queries = []
    title: Queries = []
    text: Queries = []
    date: Queries = []
    url: Queries = []
    company: Queries = []
    review_id: Queries = []
    language: Queries = []
    rating: Queries = []
    reply_text: Queries = []
    reply_author: Queries = []
    reply_date: Queries = []
    page_company: Queries = []  # the reviewed company, named once on the page

    _record_xpath: etree.XPath = PrivateAttr()

    @field_validator("record")
    @classmethod
    def _check_record(cls, value: str) -> str:
        return _check_css(value)

    def model_post_init(self, __context: Any) -> None:
        self._record_xpath = etree.XPath(css_to_xpath(self.record))

    @property
    def record_xpath(self) -> etree.XPath:
        return self._record_xpath


class Engine(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_-]+$")
    description: str
    kind: Literal["forum", "blog", "reviews"]
    order: int = 100  # engines are tried in this order (lower first) when several could match
    detect: list[str] = []  # CSS markers that name the engine (a generator meta, a body id)
    only_when_detected: bool = False  # its post rule is tried only on pages with a marker
    posts: PostRule | None = None
    page: PageRule = PageRule()
    reviews: ReviewRule | None = None

    @field_validator("detect")
    @classmethod
    def _check_detect(cls, value: list[str]) -> list[str]:
        return [_check_css(v) for v in value]

    _detect: list[etree.XPath] = PrivateAttr(default_factory=list)

    def model_post_init(self, __context: Any) -> None:
        self._detect = [etree.XPath(css_to_xpath(marker)) for marker in self.detect]

    def detected(self, root: etree._Element) -> bool:
        """Whether a page (its root element) carries one of the engine's markers."""
        return any(xp(root) for xp in self._detect)

    @model_validator(mode="after")
    def _has_rules(self) -> Engine:
        if self.kind == "reviews" and self.reviews is None:
            raise ValueError("a reviews engine needs a [reviews] table")
        if self.kind == "forum" and self.posts is None:
            raise ValueError("a forum engine needs a [posts] table")
        if self.only_when_detected and not self.detect:
            raise ValueError("only_when_detected needs detect markers")
        return self


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def parse_engine(text: str, source: str) -> Engine:
    """One engine file's text, validated. Errors name the file, the engine and the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EngineFileError(f"{source}: not valid TOML: {exc}") from exc
    name = data.get("name") if isinstance(data.get("name"), str) else Path(source).stem
    try:
        return Engine.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise EngineFileError(f"{source}: engine {name!r}: {problems}") from exc


def load_engines(folder: Path | str | None = None) -> tuple[Engine, ...]:
    """Every engine file of `folder` (default: the built-in ones beside this
    module), in their `order`, then by name. Two files naming one engine are an error."""
    if folder is None:
        base = resources.files(__package__)
        files = [(f.name, f.read_text(encoding="utf-8")) for f in base.iterdir() if f.name.endswith(".toml")]
    else:
        files = [(str(p), p.read_text(encoding="utf-8")) for p in Path(folder).glob("*.toml")]
    engines = [parse_engine(text, name) for name, text in sorted(files)]
    seen: dict[str, str] = {}
    for engine, (source, _) in zip(engines, sorted(files), strict=True):
        if engine.name in seen:
            raise EngineFileError(f"{source}: engine {engine.name!r} is already defined in {seen[engine.name]}")
        seen[engine.name] = source
    return tuple(sorted(engines, key=lambda e: (e.order, e.name)))


@functools.cache
def builtin_engines() -> tuple[Engine, ...]:
    return load_engines()


def engines_of(kind: str) -> tuple[Engine, ...]:
    """The built-in engines of one kind (forum, blog, reviews), in order."""
    return tuple(e for e in builtin_engines() if e.kind == kind)
