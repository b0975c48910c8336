"""Query-string parsing shared by the pages, the API and the exports: one pydantic model per
query (SearchQuery, CompareQuery), whose field types also make the API's OpenAPI document
(web/openapi.py).

Pages parse leniently (a bad value is dropped with a notice, the page still
renders); the API and exports parse strictly (a bad value is a 400 naming the
parameter). Limits that are settings (results per page, the result cap) are
applied after validation, by ``SearchQuery.resolve``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError
from werkzeug.datastructures import MultiDict

from complaintwatch.models import POST_TYPES, SearchFilters, site_of
from indexer.stance import STANCES

from .safetext import strip_bidi

MAX_QUERY_CHARS = 500
MAX_FIELD_CHARS = 200
MAX_SQL_INT = 2**63 - 1
MAX_COMPANY_VALUES = 100  # repeated ?c= values read; the rest ignored
SORTS = ("relevance", "date")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BadParam(ValueError):
    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


# -- the rules, one function each (the models' validators call them; so do alert watches) --


def clean_text(value: str | None, limit: int = MAX_FIELD_CHARS) -> str:
    """Control characters as spaces, bidirectional controls removed, trimmed and cut to ``limit``."""
    return (strip_bidi(_CONTROL.sub(" ", value or "")) or "").strip()[:limit]


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


def parse_int(value: str | None, name: str, default: int | None) -> int | None:
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


def _choice(value: str | None, name: str, choices: tuple[str, ...], message: str) -> str | None:
    value = clean_text(value, 16).lower()
    if value and value not in choices:
        raise BadParam(name, message)
    return value or None


# -- from the rules to pydantic field types --


def _scalar(value: Any) -> str | None:
    """One query value as text: the first of repeated values (as ``MultiDict.get``), numbers and
    booleans of a JSON body as they would be typed in a URL."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def rule(fn: Callable[..., Any], *, earlier: bool = False, scalar: bool = True) -> BeforeValidator:
    """A field validator from a rule above: its BadParam message becomes the pydantic error's
    (type ``bad_param``; param_error() turns it back into a BadParam naming the parameter).
    ``earlier``: the rule also gets the fields validated before this one (to compare with them);
    ``scalar``: the rule gets the value as one text (else as given, e.g. a JSON body's)."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        if scalar:
            value = _scalar(value)
        try:
            if earlier:
                return fn(value, info.field_name or "", info.data)
            return fn(value, info.field_name or "")
        except BadParam as exc:
            raise PydanticCustomError("bad_param", "{message}", {"message": exc.message}) from None

    return BeforeValidator(validate)


def _text(limit: int, then: Callable[[str], str] = lambda s: s) -> BeforeValidator:
    return rule(lambda v, _name: then(clean_text(v, limit)))


Stance = Literal[STANCES]  # type: ignore[valid-type]
Sort = Literal[SORTS]  # type: ignore[valid-type]

QueryText = Annotated[
    str,
    _text(MAX_QUERY_CHARS),
    Field(
        description='Free text, cut to 500 characters. Supports "exact phrase", +required, -excluded and OR; '
        "phrases, +words and -words hold for similar-in-meaning (vector) hits too. Empty: the latest posts."
    ),
]
CompanyId = Annotated[str, _text(MAX_FIELD_CHARS), Field(description="Company id.")]
Site = Annotated[
    str,
    _text(MAX_FIELD_CHARS, normalise_site),
    Field(description="Source site, e.g. otzovik.com (a URL or www. name is reduced to the site)."),
]
Lang = Annotated[str, _text(16, str.lower), Field(description="ISO 639-1 language code.")]
IncidentId = Annotated[
    Annotated[int, Field(ge=0, le=MAX_SQL_INT)] | None, rule(parse_id), Field(description="Incident type id.")
]
DateFrom = Annotated[
    date | None,
    rule(parse_date),
    Field(alias="from", description="Published on or after this date (UTC); an ISO datetime is cut to its date."),
]
StanceFilter = Annotated[
    Stance | None,
    rule(lambda v, name: _choice(v, name, STANCES, "must be one of " + ", ".join(STANCES))),
    Field(
        description="Posts of this stance only; complaint also matches posts not classified yet "
        "(company replies never)."
    ),
]
PostTypeName = Literal[POST_TYPES]  # type: ignore[valid-type]
# ``type``: complaints, comments or company replies only (issue 13); SearchQuery and the alerts' params
PostType = Annotated[
    PostTypeName | None,
    rule(lambda v, name: _choice(v, name, POST_TYPES, "must be one of " + ", ".join(POST_TYPES))),
    Field(
        description="complaint: opening posts and reviews by customers; comment: replies by customers; "
        "company_reply: the company's own posts (never complaints)."
    ),
]
Similar = Annotated[
    bool,
    rule(lambda v, name: parse_flag(v, name, True)),
    Field(
        description="1: add posts similar in meaning (vector hits without the query's words); "
        "0: text matches only (also true/false, yes/no, on/off)."
    ),
]


def _sort(value: str | None, name: str) -> str:
    value = (value or "relevance").strip().lower()
    if value not in SORTS:
        raise BadParam(name, "must be relevance or date")
    return value


def _date_to(value: str | None, name: str, earlier: Mapping[str, Any]) -> date | None:
    to = parse_date(value, name)
    since = earlier.get("date_from")
    if to is not None and since is not None and to < since:
        # a reversed range matches nothing: say so rather than show an empty list
        raise BadParam("to", f"{to.isoformat()} is before from ({since.isoformat()}): the date range is reversed")
    return to


DateTo = Annotated[
    date | None,
    rule(_date_to, earlier=True),
    Field(alias="to", description="Published on or before this date (UTC, inclusive); not before `from`."),
]


def param_error(e: Mapping[str, Any], default: str = "query") -> BadParam:
    """One pydantic error (an item of ``ValidationError.errors()``) as a BadParam: the parameter is
    the last name in its location (``params.incident`` is ``incident``, as the pages call it)."""
    names = [part for part in e["loc"] if isinstance(part, str)]
    message = e["ctx"]["message"] if e["type"] == "bad_param" else e["msg"]
    return BadParam(names[-1] if names else default, message)


def bad_param(err: ValidationError, default: str = "query") -> BadParam:
    """A model's failed validation as a BadParam for its first error (the API's 400)."""
    return param_error(err.errors(include_url=False)[0], default)


class QueryModel(BaseModel):
    """A query string's model: parameters it does not name are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @classmethod
    def strict(cls, data: Mapping[str, Any]):
        """Validated, or BadParam for the first bad value."""
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise bad_param(err) from None

    @classmethod
    def lenient(cls, data: Mapping[str, Any]) -> tuple[Any, list[str]]:
        """Validated with every bad value dropped, and a notice for each ("Ignored page: ...")."""
        data, notices = dict(data), list[str]()
        for _ in range(len(cls.model_fields) + 1):  # each round drops at least one value
            try:
                return cls.model_validate(data), notices
            except ValidationError as err:
                bad = [e for e in err.errors(include_url=False) if e["loc"] and e["loc"][0] in data]
                if not bad:
                    break
                for e in bad:
                    exc = param_error(e)
                    notices.append(f"Ignored {exc.name}: {exc.message}.")
                    data.pop(str(e["loc"][0]), None)
        return cls(), notices


def first_values(args: Mapping) -> dict[str, Any]:
    """A query string (MultiDict) as one value per name, as ``args.get`` reads it."""
    if isinstance(args, MultiDict):
        return {k: args.get(k) for k in args}
    return dict(args)


class SearchQuery(QueryModel):
    """The search page's, the API's and the exports' query string. The field order is the order
    problems are reported in."""

    q: QueryText = ""
    company: CompanyId = ""
    site: Site = ""
    lang: Lang = ""
    incident: IncidentId = None
    stance: StanceFilter = None
    type: PostType = None
    date_from: DateFrom = None
    date_to: DateTo = None
    sort: Annotated[Sort, rule(_sort), Field(description="Result order.")] = "relevance"
    similar: Similar = True
    per_page: Annotated[
        int | None,
        rule(lambda v, name: parse_int(v, name, None)),
        Field(
            description="Results per page (API: default 20, at most 100: the app's PER_PAGE and "
            "API_MAX_PER_PAGE); clamped to that range."
        ),
    ] = None
    page: Annotated[
        int,
        rule(lambda v, name: parse_int(v, name, 1)),
        Field(description="1-based page; clamped to 1 .. the last page the result cap allows."),
    ] = 1

    def resolve(self, *, max_results: int, per_page: int = 20, max_per_page: int = 100) -> SearchParams:
        """The search to run: page and per_page clamped to the app's limits."""
        pp = per_page if self.per_page is None else min(max(self.per_page, 1), max_per_page)
        return SearchParams(
            q=self.q,
            company=self.company,
            incident=self.incident,
            site=self.site,
            lang=self.lang,
            stance=self.stance or "",
            post_type=self.type or "",
            date_from=self.date_from,
            date_to=self.date_to,
            sort=self.sort,
            similar=self.similar,
            per_page=pp,
            # page numbers past the result cap can never have results
            page=min(max(self.page, 1), max(1, math.ceil(max_results / pp))),
        )


@dataclass(slots=True)
class SearchParams:
    """A validated search with the app's limits applied: what web/search.py runs."""

    q: str = ""
    company: str = ""
    incident: int | None = None
    site: str = ""
    lang: str = ""
    stance: str = ""  # indexer/stance.py STANCES
    post_type: str = ""  # complaintwatch.models POST_TYPES (the query string's ``type``)
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
            post_type=self.post_type or None,
        )

    @property
    def has_filters(self) -> bool:
        return bool(
            self.company
            or self.incident is not None
            or self.site
            or self.lang
            or self.stance
            or self.post_type
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
            "type": self.post_type or None,
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
    args: Mapping, *, strict: bool, max_results: int, per_page: int = 20, max_per_page: int = 100
) -> SearchParams:
    """SearchQuery from a query string, with the app's limits. Strict: raise BadParam. Lenient:
    drop the bad values and record notices."""
    data = first_values(args)
    if strict:
        return SearchQuery.strict(data).resolve(max_results=max_results, per_page=per_page, max_per_page=max_per_page)
    query, notices = SearchQuery.lenient(data)
    params = query.resolve(max_results=max_results, per_page=per_page, max_per_page=max_per_page)
    params.notices = notices
    return params


def _company_list(value: Any, _name: str = "c") -> list[str]:
    values = value if isinstance(value, list | tuple) else [] if value is None else [value]
    return list(
        dict.fromkeys(c for raw in values[:MAX_COMPANY_VALUES] for c in map(clean_text, str(raw).split(",")) if c)
    )


class CompareQuery(QueryModel):
    """/compare's query string: the companies side by side."""

    c: Annotated[
        list[str],
        BeforeValidator(_company_list),
        Field(
            description="Company id; repeat it (?c=ozon&c=wildberries) or separate ids with commas: "
            "2 to 6 companies (the app's COMPARE_MAX), in the order shown."
        ),
    ] = []

    @classmethod
    def from_args(cls, args: Mapping, name: str = "c") -> CompareQuery:
        values = args.getlist(name) if isinstance(args, MultiDict) else args.get(name)
        return cls.model_validate({"c": values})


def choose_companies(
    wanted: list[str], known: dict[str, int], *, strict: bool, max_companies: int, name: str = "c"
) -> tuple[list[tuple[str, int]], list[str]]:
    """The companies to compare as (id, post count) in the order given, and notices.
    Strict: an unknown company or too many is a BadParam; lenient: dropped with a notice."""
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


def parse_companies(
    args: Mapping, known: dict[str, int], *, strict: bool, max_companies: int, name: str = "c"
) -> tuple[list[tuple[str, int]], list[str]]:
    """The companies a query string asks for (repeated ``c``; commas also separate), without
    repeats: see choose_companies."""
    wanted = CompareQuery.from_args(args, name).c
    return choose_companies(wanted, known, strict=strict, max_companies=max_companies, name=name)
