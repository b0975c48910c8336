"""Query-string parsing shared by the pages, the API and the exports.

Pages parse leniently (a bad value is dropped with a notice, the page still
renders); the API and exports parse strictly (a bad value is a 400)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from werkzeug.datastructures import MultiDict

from complaintwatch.models import SearchFilters, site_of
from indexer.stance import STANCES

from .safetext import strip_bidi

MAX_QUERY_CHARS = 500
MAX_FIELD_CHARS = 200
MAX_SQL_INT = 2**63 - 1
SORTS = ("relevance", "date")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BadParam(ValueError):
    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def clean_text(value: str | None, limit: int = MAX_FIELD_CHARS) -> str:
    """Control characters as spaces, bidirectional controls removed, trimmed and cut to ``limit``."""
    return strip_bidi(_CONTROL.sub(" ", value or "")).strip()[:limit]


def normalise_site(value: str) -> str:
    """'https://www.Otzovik.com/x' or 'www.otzovik.com' -> 'otzovik.com', as the store keeps sites."""
    value = value.strip().lower()
    if "://" in value:
        try:
            return site_of(value)
        except ValueError:
            return value
    return value[4:] if value.startswith("www.") else value


def parse_id(value: str | None, name: str) -> int | None:
    """A non-negative integer that fits an SQL INTEGER, or None when empty."""
    value = (value or "").strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 19 or int(value) > MAX_SQL_INT:
        raise BadParam(name, "must be a non-negative integer id")
    return int(value)


def parse_date(value: str | None, name: str) -> date | None:
    """YYYY-MM-DD (an ISO datetime is accepted and cut to its date)."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) <= 40:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            pass
    raise BadParam(name, "must be a date like 2024-05-31")


def parse_int(value: str | None, name: str, default: int) -> int:
    value = (value or "").strip()
    if not value:
        return default
    if not re.fullmatch(r"[+-]?\d{1,30}", value):
        raise BadParam(name, "must be an integer")
    return int(value)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def parse_flag(value: str | None, name: str, default: bool) -> bool:
    """1/true/yes/on or 0/false/no/off; empty: ``default``."""
    value = (value or "").strip().lower()
    if not value:
        return default
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise BadParam(name, "must be 1 or 0")


@dataclass(slots=True)
class SearchParams:
    q: str = ""
    company: str = ""
    incident: int | None = None
    site: str = ""
    lang: str = ""
    stance: str = ""  # indexer/stance.py STANCES
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    similar: bool = True  # vector ("similar in meaning") hits besides the text matches
    notices: list[str] = field(default_factory=list)  # lenient mode: what was ignored

    @property
    def filters(self) -> SearchFilters:
        since = datetime.combine(self.date_from, time.min, timezone.utc) if self.date_from else None
        until = None
        if self.date_to and self.date_to < date.max:  # "to" is inclusive: before the next day
            until = datetime.combine(self.date_to + timedelta(days=1), time.min, timezone.utc)
        return SearchFilters(
            company=self.company or None,
            incident_id=self.incident,
            site=self.site or None,
            language=self.lang or None,
            since=since,
            until=until,
            stance=self.stance or None,
        )

    @property
    def has_filters(self) -> bool:
        return bool(
            self.company
            or self.incident is not None
            or self.site
            or self.lang
            or self.stance
            or self.date_from
            or self.date_to
        )

    def filter_dict(self) -> dict:
        return {
            "company": self.company or None,
            "incident": self.incident,
            "site": self.site or None,
            "lang": self.lang or None,
            "stance": self.stance or None,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }

    def query_args(self, **override) -> dict[str, str]:
        """The normalised query string (only valid, non-default values), for links."""
        args = {"q": self.q, **{k: v for k, v in self.filter_dict().items()}}
        if self.sort != "relevance":
            args["sort"] = self.sort
        if not self.similar:
            args["similar"] = 0
        if self.page != 1:
            args["page"] = self.page
        args.update(override)
        return {k: str(v) for k, v in args.items() if v not in (None, "") and not (k == "page" and v == 1)}


def parse_search_params(
    args: MultiDict, *, strict: bool, max_results: int, per_page: int = 20, max_per_page: int = 100
) -> SearchParams:
    """Parse q, company, incident, site, lang, stance, from, to, sort, similar, page (and, when
    ``max_per_page`` > default, per_page). Strict: raise BadParam. Lenient:
    drop the bad value and record a notice."""
    p = SearchParams(per_page=per_page)
    p.q = clean_text(args.get("q"), MAX_QUERY_CHARS)
    p.company = clean_text(args.get("company"))
    p.site = normalise_site(clean_text(args.get("site")))
    p.lang = clean_text(args.get("lang"), 16).lower()

    def attempt(fn):
        try:
            fn()
        except BadParam as exc:
            if strict:
                raise
            p.notices.append(f"Ignored {exc.name}: {exc.message}.")

    def _incident():
        p.incident = parse_id(args.get("incident"), "incident")

    def _from():
        p.date_from = parse_date(args.get("from"), "from")

    def _to():
        to = parse_date(args.get("to"), "to")
        if to is not None and p.date_from is not None and to < p.date_from:
            # a reversed range matches nothing: say so rather than show an empty list
            raise BadParam(
                "to", f"{to.isoformat()} is before from ({p.date_from.isoformat()}): the date range is reversed"
            )
        p.date_to = to

    def _stance():
        s = clean_text(args.get("stance"), 16).lower()
        if s and s not in STANCES:
            raise BadParam("stance", "must be one of " + ", ".join(STANCES))
        p.stance = s

    def _sort():
        s = (args.get("sort") or "relevance").strip().lower()
        if s not in SORTS:
            raise BadParam("sort", "must be relevance or date")
        p.sort = s

    def _similar():
        p.similar = parse_flag(args.get("similar"), "similar", True)

    def _per_page():
        if max_per_page > per_page or "per_page" in args:
            n = parse_int(args.get("per_page"), "per_page", per_page)
            p.per_page = min(max(n, 1), max_per_page)

    def _page():
        n = parse_int(args.get("page"), "page", 1)
        # clamp: page numbers past the result cap can never have results
        p.page = min(max(n, 1), max(1, math.ceil(max_results / p.per_page)))

    for fn in (_incident, _stance, _from, _to, _sort, _similar, _per_page, _page):
        attempt(fn)
    return p


def parse_companies(
    args: MultiDict, known: dict[str, int], *, strict: bool, max_companies: int, name: str = "c"
) -> tuple[list[tuple[str, int]], list[str]]:
    """The companies to compare (repeated ``c``; commas also separate), as
    (id, post count) in the order given, without repeats, and notices.
    Strict: an unknown company or too many is a BadParam; lenient: dropped
    with a notice."""
    wanted = list(dict.fromkeys(c for raw in args.getlist(name)[:100] for c in map(clean_text, raw.split(",")) if c))
    unknown = [c for c in wanted if c not in known]
    chosen = [(c, known[c]) for c in wanted if c in known]
    if strict and unknown:
        raise BadParam(name, f"unknown company {unknown[0]!r}")
    if strict and len(chosen) > max_companies:
        raise BadParam(name, f"at most {max_companies} companies")
    notices = []
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:5]) + (", …" if len(unknown) > 5 else "")
        notices.append(f"Ignored {name}: unknown compan{'y' if len(unknown) == 1 else 'ies'} {shown}.")
    if len(chosen) > max_companies:
        notices.append(f"Ignored {name}: at most {max_companies} companies side by side.")
    return chosen[:max_companies], notices
