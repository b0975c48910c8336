"""Alerts for reputation managers: saved searches and company x incident type
watches, kept in the store and evaluated on request.

- new: matching posts published after the alert's last_seen_at ("mark seen"
  moves it to now);
- spike: the last 30 days against the 180 days before them, by the same
  rising rule as the incident-type trends (web.trends.spike_details).

Alerts belong to their creator once accounts exist (web/auth.py): a user sees
and edits their own, admins all, and alerts made before accounts (no owner)
are the admins'. Evaluation needs the app (``app.app_context()``), never a
request: alert delivery (complaintwatch/delivery) runs it too.

A "search" alert matches what the search page finds for its query and filters
(hybrid text + vector search; no query: every post under the filters; a query
with a quoted phrase, +word or -word, or ``similar=0``, counts text matches
only, never posts that are just similar in meaning); a
"watch" matches the company's opening posts of that incident type, as counted
on the company page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from werkzeug.datastructures import MultiDict

from complaintwatch.models import Incident, Post, SavedSearch, SearchFilters
from indexer.query import parse_query

from .auth import accounts, accounts_on, current_account
from .params import MAX_FIELD_CHARS, MAX_SQL_INT, BadParam, SearchParams, clean_text, parse_id, parse_search_params
from .reports import company_post_count, incident_label, incidents_by_id
from .search import TYPE_LABELS, ResultItem, count_matches, newest_match_items, newest_matches
from .services import company_name, setting, store
from .trends import SPIKE_RULE, SPIKE_WINDOW, Spike, spike_details

KINDS = ("search", "watch")
NAME_CHARS = MAX_FIELD_CHARS
SEARCH_KEYS = ("q", "company", "incident", "site", "lang", "stance", "type", "from", "to", "similar")


class TooManyAlerts(Exception):
    pass


def now_utc() -> datetime:
    """The end of the AS_OF day when the app runs "as of" a date (the demo), else now."""
    as_of = setting("AS_OF")
    if as_of is not None:
        return datetime.combine(as_of + timedelta(days=1), time.min, timezone.utc)
    return datetime.now(timezone.utc)


def _search_params(raw: Mapping) -> SearchParams:
    args = MultiDict({k: str(raw[k]) for k in SEARCH_KEYS if raw.get(k) not in (None, "")})
    return parse_search_params(args, strict=True, max_results=setting("MAX_RESULTS"))


def normalise_params(kind: str, raw: Mapping) -> dict:
    """The params to store for a new alert, validated (BadParam when not)."""
    if kind == "search":
        p = _search_params(raw)
        out = {k: v for k, v in {"q": p.q, **p.filter_dict()}.items() if v not in (None, "")}
        if not p.similar:
            out["similar"] = 0
        return out
    if kind == "watch":
        company = clean_text(str(raw.get("company") or ""))
        if not company:
            raise BadParam("company", "a watch needs a company")
        if company_post_count(company) is None:
            raise BadParam("company", f"unknown company {company!r}")
        incident = parse_id(str(raw.get("incident") if raw.get("incident") is not None else ""), "incident")
        if incident is None:
            raise BadParam("incident", "a watch needs an incident type")
        if incident not in incidents_by_id():
            raise BadParam("incident", f"unknown incident type {incident}")
        return {"company": company, "incident": incident}
    raise BadParam("kind", "must be search or watch")


def _stored_id(alert: SavedSearch) -> int:
    """The id of an alert read from (or just added to) the store."""
    if alert.id is None:
        raise ValueError(f"alert {alert.name!r} has no id: it is not stored")
    return alert.id


def describe(kind: str, params: Mapping, incidents: dict[int, Incident] | None = None) -> str:
    """A human name for an alert's params (the default name)."""
    incidents = incidents_by_id() if incidents is None else incidents
    if kind == "watch":
        inc = incidents.get(params["incident"]) if params.get("incident") is not None else None
        return f"{company_name(params.get('company', ''))}: {incident_label(inc, params.get('incident'))}"
    parts = [f"“{params['q']}”"] if params.get("q") else []
    if params.get("company"):
        parts.append(company_name(params["company"]))
    if params.get("incident") is not None:
        parts.append(incident_label(incidents.get(params["incident"]), params["incident"]))
    parts += [str(params[k]) for k in ("site", "lang") if params.get(k)]
    if params.get("stance"):
        parts.append(f"stance: {params['stance']}")
    if params.get("type"):
        parts.append(f"{TYPE_LABELS.get(str(params['type']), str(params['type'])).lower()} only")
    if params.get("from") or params.get("to"):
        parts.append(f"{params.get('from') or '…'} – {params.get('to') or '…'}")
    return ", ".join(parts) or "All posts"


def visible_alerts() -> list[SavedSearch]:
    """The alerts the current visitor may see: all while no account exists;
    then a user's own, every alert for admins, none for anonymous visitors."""
    every = store().saved_searches()
    if not accounts_on():
        return every
    user = current_account()
    if user is None:
        return []
    if user.role == "admin":
        return every
    owners = accounts().owners_by_alert()
    return [a for a in every if owners.get(_stored_id(a)) == user.id]


def visible_alert(alert_id: int) -> SavedSearch | None:
    """One alert if the visitor may see it (and so change it, when they may write at all)."""
    a = store().get_saved_search(alert_id) if alert_id <= MAX_SQL_INT else None
    if a is None or not accounts_on():
        return a
    user = current_account()
    if user is None:
        return None
    if user.role == "admin" or accounts().owners_by_alert().get(_stored_id(a)) == user.id:
        return a
    return None


def create_alert(name: str, kind: str, raw: Mapping) -> SavedSearch:
    """A new alert, owned by the signed-in user (when accounts exist)."""
    kind = clean_text(kind, 16).lower()
    params = normalise_params(kind, raw)
    user = current_account() if accounts_on() else None
    if user is not None:  # the limit is per user (each one's alerts are evaluated on their page)
        owners = accounts().owners_by_alert()
        mine = sum(1 for a in store().saved_searches() if owners.get(_stored_id(a)) == user.id)
    else:
        mine = len(store().saved_searches())
    if mine >= setting("MAX_ALERTS"):
        raise TooManyAlerts(f"at most {setting('MAX_ALERTS')} alerts: delete some first")
    name = clean_text(name, NAME_CHARS) or describe(kind, params)
    saved = store().add_saved_search(SavedSearch(name=name, kind=kind, params=params, created_at=now_utc()))
    if user is not None:
        accounts().set_owner(_stored_id(saved), user)
    return saved


def delete_alert(alert: SavedSearch) -> None:
    store().delete_saved_search(_stored_id(alert))
    accounts().forget_alert(_stored_id(alert))


def search_args(alert: SavedSearch) -> dict[str, str]:
    """The search page's query string for what the alert matches."""
    if alert.kind == "watch":
        return {"company": str(alert.params.get("company", "")), "incident": str(alert.params.get("incident", ""))}
    return {k: str(alert.params[k]) for k in SEARCH_KEYS if alert.params.get(k) not in (None, "")}


def _query(alert: SavedSearch) -> tuple[SearchParams, SearchFilters]:
    if alert.kind == "watch":
        filters = SearchFilters(
            company=str(alert.params.get("company") or "") or None,
            incident_id=alert.params.get("incident"),
            include_comments=False,  # opening posts: what the company page counts
        )
        return SearchParams(), filters
    p = _search_params(alert.params)  # validated when the alert was created
    if parse_query(p.q).has_constraints:
        p.similar = False  # an exact question: similar-in-meaning posts are not what was asked for
    return p, p.filters


def _new_since(alert: SavedSearch) -> datetime:
    # stored to the second: posts from the next second on are new
    return (alert.last_seen_at or alert.created_at) + timedelta(seconds=1)


@dataclass(slots=True)
class AlertState:
    alert: SavedSearch
    new: int  # matching posts published after last_seen_at
    spike: Spike
    description: str
    search_args: dict[str, str]


def evaluate(
    alert: SavedSearch, now: datetime | None = None, incidents: dict[int, Incident] | None = None
) -> AlertState:
    now = now or now_utc()
    params, filters = _query(alert)
    start = now - SPIKE_WINDOW
    base_start = start - SPIKE_WINDOW * SPIKE_RULE.baseline_months
    recent = count_matches(params, filters, since=start)  # future-dated posts count as recent
    before = count_matches(params, filters, until=start)
    baseline = count_matches(params, filters, since=base_start, until=start) if before else 0
    return AlertState(
        alert,
        new=count_matches(params, filters, since=_new_since(alert)),
        spike=spike_details(recent, baseline, before),
        description=describe(alert.kind, alert.params, incidents),
        search_args=search_args(alert),
    )


def new_posts(alert: SavedSearch, limit: int) -> list[Post]:
    """The newest matching posts published since last_seen_at."""
    return [it.post for it in new_items(alert, limit)]


def new_items(alert: SavedSearch, limit: int) -> list[ResultItem]:
    """new_posts with how each matched (``ResultItem.similar``: only similar in meaning)."""
    params, filters = _query(alert)
    return newest_match_items(params, filters, limit, since=_new_since(alert))


def items_since(alert: SavedSearch, since: datetime, limit: int) -> list[ResultItem]:
    """The newest matching posts published from ``since`` on (alert delivery)."""
    params, filters = _query(alert)
    return newest_match_items(params, filters, limit, since=since)


def matching_posts(alert: SavedSearch, limit: int) -> list[Post]:
    """The newest matching posts (for the feed)."""
    params, filters = _query(alert)
    return newest_matches(params, filters, limit)
