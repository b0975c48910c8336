"""The JSON API's typed models: request bodies (validated by web/api.py) and the responses that
web/serialize.py builds. web/openapi.py generates the OpenAPI document from these and from the
query models of web/params.py; tests/test_api_schema.py checks real responses against it, so a
serializer and its model cannot drift apart (responses allow no field a model does not name)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from complaintwatch.models import SiteKind
from indexer.clustering.recurring import TOO_LITTLE_DATA

from .params import (
    BadParam,
    CompanyId,
    DateFrom,
    DateTo,
    IncidentId,
    Lang,
    PostType,
    PostTypeName,
    QueryText,
    Similar,
    Site,
    Stance,
    StanceFilter,
    clean_text,
    rule,
)
from .trends import FADING, NEW, RISING, STEADY

Trend = Literal[RISING, NEW, FADING, STEADY, TOO_LITTLE_DATA]  # type: ignore[valid-type]
AlertKind = Literal["search", "watch"]
Matched = Literal["text", "vector", "text+vector", "latest"]


class Out(BaseModel):
    """A response object: exactly these fields (the document says additionalProperties: false)."""

    model_config = ConfigDict(extra="forbid")


# -- errors --


class ErrorDetail(Out):
    status: int
    message: str
    param: str | None = Field(None, description="The offending parameter (absent when none).")


class Error(Out):
    """Every error answers this shape (400, 401, 403, 404, 409, 413, 415, ...)."""

    error: ErrorDetail


# -- posts, incident types, companies --


class PageLinks(Out):
    html: str = Field(description="The page.")
    api: str = Field(description="This resource in the API.")


class FeedLinks(PageLinks):
    feed: str = Field(description="The Atom feed.")


class Post(Out):
    id: int
    url: str = Field(description="The source page (canonical URL).")
    source_site: str = Field(description="The host, as the site filter takes it.")
    source_site_name: str | None = Field(description="The name the site gives itself; null: not known.")
    site_kind: SiteKind
    title: str
    text: str
    author: str | None = Field(description="As shown: a keyed pseudonym when PSEUDONYMISE_AUTHORS is on.")
    published_at: datetime | None
    language: str | None
    companies: list[str]
    incident_id: int | None
    incident_label: str | None
    parent_url: str | None
    thread_url: str | None
    position: int
    is_company_reply: bool
    stance: Stance | None = Field(
        description="Set by the indexer; null: a company reply, or not classified yet. Only complaints "
        "count towards recurring failures."
    )
    rating: Annotated[int, Field(ge=1, le=5)] | None = Field(description="Stars.")
    links: PageLinks


class StorySource(Out):
    """The same story (same text) stored at another URL."""

    id: int
    url: str
    source_site: str
    source_site_name: str | None
    published_at: datetime | None
    links: PageLinks


class PostThread(Out):
    post: Post
    thread: list[Post]
    also_posted_at: list[StorySource] = Field(description="The same story (same text) stored at other URLs.")


class Incident(Out):
    id: int
    label_en: str
    label_ru: str
    keywords: list[str]
    size: int
    taxonomy_key: str | None
    representatives: list[int] = Field(description="Ids of up to 3 posts closest to the type's centre, best first.")
    links: PageLinks


class IncidentList(Out):
    incidents: list[Incident]


class IncidentCompany(Out):
    id: str
    name: str
    posts: int


class IncidentReport(Out):
    incident: Incident
    companies: list[IncidentCompany] = Field(description="The companies it hits most.")
    posts: list[Post] = Field(description="The latest opening posts.")
    representatives: list[Post] = Field(description="Up to 3 posts closest to the type's centre, best first.")


class CompanySummary(Out):
    id: str
    name: str = Field(description="Display name (the id when none is known).")
    posts: int = Field(description="Everything stored: complaints + comments + company_replies.")
    complaints: int = Field(description="Opening posts and reviews by customers (no parent, not a company reply).")
    comments: int = Field(description="Replies by customers.")
    company_replies: int = Field(
        description="Posts by the company itself (replies, own threads): never counted as complaints."
    )
    links: FeedLinks


class CompanyList(Out):
    companies: list[CompanySummary] = Field(description="Most complaints first.")


class RecurringFailure(Out):
    incident_id: int
    label_en: str | None
    label_ru: str | None
    count: int = Field(description="Opening posts (not comments).")
    first_seen: datetime | None
    last_seen: datetime | None
    trend: Trend
    recent_count: int = Field(
        description="Posts in the trend rule's recent window: the last 3 months, this one included."
    )
    expected_recent: float = Field(description="What the company's own baseline predicts for that window.")
    monthly: dict[str, int] = Field(description="YYYY-MM -> count")
    share: float | None = Field(description="Of the company's complaints (0..1).")
    per_100: float | None = Field(description="Complaints of this type per 100 of the company's complaints.")
    industry_share: float | None = Field(
        description="The same share over the other companies of its industry (null: too few of them; see industry)."
    )
    industry_per_100: float | None = Field(description="industry_share per 100 complaints.")


class IndustryPeer(Out):
    id: str
    name: str


class Industry(Out):
    """The other companies of the company's industry that have complaints, to compare with."""

    id: str | None = Field(description="The industry (the company table's); null: not known.")
    name: str | None
    peers: list[IndustryPeer]
    complaints: int = Field(description="The peers' complaints, a story once.")
    comparable: bool = Field(description="At least min_peers other companies with complaints.")
    min_peers: int
    note: str = Field(description="Why there is no comparison, or whom it is with.")


class Replies(Out):
    """Over the company's opening posts: threads with comments, and those it replied in."""

    threads_with_comments: int
    threads_with_company_reply: int
    share: float | None


class Unanswered(Out):
    id: int
    url: str
    title: str
    published_at: datetime | None
    incident_id: int | None
    page: str = Field(description="The post's page (absolute URL).")


class TimelineMonth(Out):
    month: str = Field(description="YYYY-MM")
    complaints: int
    company_replies: int


class Company(CompanySummary):
    as_of: date = Field(description="The date trends are computed as of.")
    recurring_failures: list[RecurringFailure] = Field(
        description="Complaints only: praise and questions are counted apart (stances)."
    )
    stances: dict[str, int] = Field(
        description="The company's posts by stance (company replies excepted): complaint, praise, question, other."
    )
    industry: Industry | None
    replies: Replies
    # how the company answers its complaints (absent when the store has no answer for it)
    complaints_answered: int | None = None
    complaints_considered: int | None = None
    reply_rate: float | None = Field(None, description="Complaints with a company reply in their thread (0..1).")
    median_response_hours: float | None = Field(None, description="From a complaint to its first company reply.")
    unanswered_total: int | None = None
    unanswered: list[Unanswered] | None = Field(None, description="The newest complaints without a reply.")
    timeline: list[TimelineMonth] | None = Field(description="Complaints and company replies per month.")
    latest_posts: list[Post]


class CompareCell(Out):
    count: int
    trend: Trend
    recent_count: int
    expected_recent: float
    last_seen: datetime | None


class CompareIncident(Out):
    incident_id: int
    label_en: str | None
    label_ru: str | None
    cells: dict[str, CompareCell | None] = Field(
        description="Company id -> its opening posts of this type and its trend; null: none."
    )


class CompareCompany(CompanySummary):
    replies: Replies


class Compare(Out):
    as_of: date
    companies: list[CompareCompany] = Field(description="In the order asked for.")
    incidents: list[CompareIncident] = Field(
        description="Every incident type any of the companies has, most posts (all together) first."
    )


# -- search --


class SearchFilters(Out):
    company: str | None
    incident: int | None
    site: str | None
    lang: str | None
    stance: Stance | None
    type: PostTypeName | None
    from_: date | None = Field(alias="from")
    to: date | None


class SuggestionLinks(Out):
    filter: str = Field(description="This search filtered to the company.")
    html: str = Field(description="The company's page.")
    api: str = Field(description="The company in the API.")


class CompanySuggestion(Out):
    """The company the query names (resolved as the indexer does)."""

    id: str
    name: str
    complaints: int
    links: SuggestionLinks


class SearchResult(Out):
    post: Post
    score: float | None = Field(description="Reciprocal-rank-fusion score.")
    matched: Matched
    similar: bool = Field(description="Only similar in meaning (matched == vector).")
    snippet_html: str = Field(description="HTML-escaped excerpt; matches wrapped in <mark>.")


class FacetValue(Out):
    value: str | int = Field(description="The filter's value (an incident type's id, else text).")
    label: str
    count: int = Field(description="Posts this search finds with this value, under the other filters.")
    complaints: int
    comments: int
    company_replies: int


class SearchPage(Out):
    query: str
    filters: SearchFilters
    sort: Literal["relevance", "date"]
    similar: bool = Field(description="Whether similar-in-meaning hits are included.")
    mode: Literal["search", "latest"]
    page: int
    per_page: int
    total: int = Field(description="Results (up to the result cap).")
    matches: int | None = Field(description="Every post the search finds, past the result cap too (exact).")
    pages: int
    has_next: bool
    company_suggestion: CompanySuggestion | None = Field(description="The company the query names, or null.")
    facets: dict[str, list[FacetValue]] = Field(
        description="Per filter (company, site, lang, incident, type, stance): the values the search page's "
        "drop-downs offer, each with what this search finds with it under the other filters."
    )
    results: list[SearchResult]


# -- alerts --


class AlertLinks(FeedLinks):
    search: str = Field(description="The search page for what the alert matches.")


class AlertSpike(Out):
    spike: bool = Field(description="last_30_days >= 2 x expected_30_days and >= 3 posts.")
    trend: Trend
    last_30_days: int
    previous_180_days: int
    expected_30_days: float = Field(description="previous_180_days / 6.")


class Alert(Out):
    id: int
    name: str
    kind: AlertKind
    params: dict[str, str | int] = Field(
        description="As saved: the search's filters, or a watch's company and incident."
    )
    description: str
    created_at: datetime | None
    last_seen_at: datetime | None
    new_posts: int = Field(description="Matching posts published after last_seen_at.")
    spike: AlertSpike
    links: AlertLinks


class AlertList(Out):
    alerts: list[Alert]


class NewPost(Post):
    matched: Matched
    similar: bool


class AlertDetail(Alert):
    new: list[NewPost] = Field(description="The new posts, newest first.")


class Deleted(Out):
    deleted: int = Field(description="The deleted alert's id.")


def _given(value: Any, default: Any) -> Any:
    """JSON false, null, 0, "" and [] mean "not given", as the API always read them."""
    return value if value else default


def _name(value: Any, name: str) -> str:
    value = _given(value, "")
    if not isinstance(value, str):
        raise BadParam(name, "must be a string")
    return value


def _kind(value: Any, name: str) -> str:
    kind = _given(value, "search")
    if not isinstance(kind, str) or clean_text(kind, 16).lower() not in ("search", "watch"):
        raise BadParam(name, "must be search or watch")
    return clean_text(kind, 16).lower()


def _params(value: Any, name: str) -> dict:
    value = _given(value, {})
    if not isinstance(value, dict):
        raise BadParam(name, "must be a JSON object")
    return value


class AlertParams(BaseModel):
    """What an alert matches. search: q, company, incident, site, lang, stance, type, from, to,
    similar (as for /api/v1/search); watch: company and incident (both required, both must exist)."""

    model_config = ConfigDict(extra="ignore")

    q: QueryText = ""
    company: CompanyId = ""
    incident: IncidentId = None
    site: Site = ""
    lang: Lang = ""
    stance: StanceFilter = None
    type: PostType = None
    date_from: DateFrom = None
    date_to: DateTo = None
    similar: Similar = True


class AlertInput(BaseModel):
    """POST /api/v1/alerts: a saved search, or a watch of a company x incident type."""

    model_config = ConfigDict(extra="ignore")

    name: Annotated[
        str,
        rule(_name, scalar=False),
        Field(description="Cut to 200 characters. Default: a description of the params."),
    ] = ""
    kind: Annotated[AlertKind, rule(_kind, scalar=False)] = "search"
    params: Annotated[AlertParams, rule(_params, scalar=False)] = AlertParams()

    @model_validator(mode="before")
    @classmethod
    def _watch_reads_company_and_incident(cls, data: Any) -> Any:
        # a watch ignores every other param (web/alerts.py normalise_params): so does its validation
        kind = data.get("kind") if isinstance(data, dict) else None
        if isinstance(kind, str) and clean_text(kind, 16).lower() == "watch" and isinstance(data.get("params"), dict):
            data = {**data, "params": {k: v for k, v in data["params"].items() if k in ("company", "incident")}}
        return data


class SeenInput(BaseModel):
    """Any JSON object ({} will do)."""

    model_config = ConfigDict(extra="allow")


class ApiEndpoint(Out):
    path: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    summary: str


class ApiIndexLinks(Out):
    openapi: str = Field(description="The OpenAPI document.")
    docs: str = Field(description="The docs page.")


class ApiIndex(Out):
    title: str
    version: str
    endpoints: list[ApiEndpoint]
    links: ApiIndexLinks


class Status(Out):
    """The scheduler's state (complaintwatch/runstate.py status())."""

    now: datetime | None
    scheduler: dict[str, Any] = Field(description="running, last_tick, started_at, host, mode, since_last_tick.")
    index: dict[str, Any] | None
    refit: dict[str, Any] | None
    delivery: dict[str, Any] | None
    sources_file: str
    sources_error: list[str] | None
    sources: list[dict[str, Any]] = Field(description="Each source's last crawl and next due time.")
