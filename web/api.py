"""The JSON API, /api/v1/...: the same data as the pages, for scripts."""

from __future__ import annotations

import json

from flask import Blueprint, abort, jsonify, request, url_for
from pydantic import BaseModel, ValidationError
from spectree import Response

from .alerts import TooManyAlerts, create_alert, evaluate, new_items, now_utc, visible_alert, visible_alerts
from .alerts import delete_alert as remove_alert
from .openapi import api_doc, openapi_spec, operations
from .params import MAX_SQL_INT, BadParam, CompareQuery, SearchQuery, bad_param, choose_companies
from .reports import (
    company_counts,
    company_post_count,
    company_report,
    compare_report,
    incident_report,
    incidents_by_id,
)
from .safetext import MAX_JSON_DEPTH, UnsafeJSON, check_json
from .schemas import (
    Alert,
    AlertDetail,
    AlertInput,
    AlertList,
    ApiIndex,
    Company,
    CompanyList,
    Compare,
    Deleted,
    Error,
    IncidentList,
    IncidentReport,
    PostThread,
    SearchPage,
    SeenInput,
)
from .search import facet_counts, facets_dict, run_search
from .serialize import (
    alert_dict,
    company_dict,
    company_summary,
    compare_dict,
    incident_dict,
    incident_report_dict,
    post_dict,
    story_source_dict,
)
from .services import setting, store
from .suggest import company_suggestion

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def json_error(status: int, message: str, param: str | None = None):
    body = {"error": {"status": status, "message": message}}
    if param:
        body["error"]["param"] = param
    return jsonify(body), status


@bp.errorhandler(BadParam)
def _bad_param(exc: BadParam):
    return json_error(400, exc.message, exc.name)


def _doc(
    ok: type[BaseModel] | None, *errors: tuple[int, str], description: str | None = None, code: int = 200
) -> Response:
    """The responses of an operation for the OpenAPI document: ``ok`` and the errors (status, what
    it means; each an Error body); 400 comes with every operation (the Host check, bad parameters)."""
    return Response(
        **{f"HTTP_{code}": (ok, description) if description else ok},
        **{f"HTTP_{status}": (Error, meaning) for status, meaning in errors},
    )


@bp.get("/search")
@api_doc.validate(query=SearchQuery, resp=_doc(SearchPage))
def search():
    """Hybrid full-text + semantic search

    ``facets``: per filter (company, site, lang, incident, type, stance), each value with the posts
    this search finds with it under every other filter (its own left out): the numbers of the search
    page's drop-downs. They count what the page counts as results: every text match (past this page
    and the result cap too), plus the similar-in-meaning hits when similar is on (found again under
    the facet's filters); each post once, complaints, comments and company replies apart. No query:
    every post under the filters."""
    params = request.context.query.resolve(
        max_results=setting("MAX_RESULTS"),
        per_page=setting("PER_PAGE"),
        max_per_page=setting("API_MAX_PER_PAGE"),
    )
    res = run_search(params)
    incs = incidents_by_id()
    suggestion = company_suggestion(params)
    return jsonify(
        {
            "query": params.q,
            "filters": params.filter_dict(),
            "sort": params.sort,
            "similar": params.similar,
            "mode": res.mode,
            "page": res.page,
            "per_page": res.per_page,
            "total": res.total,
            "matches": res.matches,
            "pages": res.pages,
            "has_next": res.has_next,
            # the company the query names (null when none): its filter and page
            "company_suggestion": suggestion.as_dict() if suggestion else None,
            # per filter, what this search finds with each value under the other filters (web/search.py)
            "facets": facets_dict(params, facet_counts(params), incs),
            "results": [
                {
                    "post": post_dict(it.post, incs),
                    "score": it.score,
                    "matched": it.matched,
                    "similar": it.similar,
                    "snippet_html": str(it.snippet),
                }
                for it in res.items
            ],
        }
    )


@bp.get("/companies")
@api_doc.validate(resp=_doc(CompanyList))
def companies():
    """Companies, most complained-about first"""
    # most complaints first; company replies are never complaints
    return jsonify({"companies": [company_summary(c.company, c.posts, c) for c in company_counts().values()]})


@bp.get("/company/<company_id>")
@api_doc.validate(
    resp=_doc(Company, (404, "Unknown company")), path_parameter_descriptions={"company_id": "Company id."}
)
def company(company_id: str):
    """A company's recurring failures, reply share and latest posts"""
    n = company_post_count(company_id)
    if n is None:
        abort(404, description=f"unknown company {company_id!r}")
    return jsonify(company_dict(company_report(company_id, n), incidents_by_id()))


@bp.get("/incidents")
@api_doc.validate(resp=_doc(IncidentList))
def incidents():
    """Incident types, largest first"""
    return jsonify({"incidents": [incident_dict(i) for i in store().incidents()]})


@bp.get("/incident/<int:incident_id>")
@api_doc.validate(
    resp=_doc(IncidentReport, (404, "Unknown incident type")),
    path_parameter_descriptions={"incident_id": "Incident type id."},
)
def incident(incident_id: int):
    """An incident type, the companies it hits most and example posts"""
    incs = incidents_by_id()
    inc = incs.get(incident_id)
    if inc is None:
        abort(404, description=f"unknown incident type {incident_id}")
    return jsonify(incident_report_dict(incident_report(inc), incs))


@bp.get("/post/<int:post_id>")
@api_doc.validate(resp=_doc(PostThread, (404, "Unknown post")), path_parameter_descriptions={"post_id": "Post id."})
def post(post_id: int):
    """A post and its thread"""
    p = store().get_post(post_id) if post_id <= MAX_SQL_INT else None
    if p is None:
        abort(404, description=f"unknown post {post_id}")
    incs = incidents_by_id()
    thread = store().thread(p.thread_url or p.url)
    return jsonify(
        {
            "post": post_dict(p, incs),
            "thread": [post_dict(t, incs) for t in thread],
            "also_posted_at": [story_source_dict(o) for o in store().same_story(p)],
        }
    )


@bp.get("/openapi.json")
@api_doc.validate(resp=_doc(None, description="The OpenAPI 3.1 document"))
def openapi():
    """This description"""
    return jsonify(openapi_spec())


@bp.get("/", strict_slashes=False)  # /api/v1 and /api/v1/
@api_doc.validate(resp=_doc(ApiIndex))
def index():
    """This API's endpoints, with links to this description and its docs page

    Also answers at /api/v1 (no trailing slash)."""
    spec = openapi_spec()
    return jsonify(
        {
            "title": spec["info"]["title"],
            "version": spec["info"]["version"],
            "endpoints": [{k: op[k] for k in ("path", "method", "summary")} for op in operations(spec)],
            "links": {"openapi": url_for("api.openapi"), "docs": url_for("apidocs.docs")},
        }
    )


@bp.get("/compare")
@api_doc.validate(query=CompareQuery, resp=_doc(Compare))
def compare():
    """Two or more companies side by side on incident types"""
    known = dict(store().companies())
    wanted = request.context.query.c
    chosen, _ = choose_companies(wanted, known, strict=True, max_companies=setting("COMPARE_MAX"))
    if len(chosen) < 2:
        raise BadParam("c", "give two or more companies, e.g. ?c=ozon&c=wildberries")
    return jsonify(compare_dict(compare_report(chosen)))


# -- alerts: the writes take a JSON body (never a form: see web/csrf.py); once accounts exist they need
# a signed-in user (Authorization: Bearer <token>, or the session with its CSRF token) who may write,
# and each user reaches only their own alerts (admins all; web/auth.py, web/alerts.py) --


def _json_body() -> dict:
    """The request's JSON object, checked before any model sees it: a 415 for anything but JSON (a
    form is what another site could post), a 400 for bad JSON, nesting too deep or lone surrogates.
    (Parsed here, not by spectree: get_json would let a RecursionError through as a 500.)"""
    if request.mimetype != "application/json":
        abort(415, description="send a JSON body with Content-Type: application/json")
    try:
        # json.loads, not get_json(silent=True): that lets a RecursionError (deep nesting) through as a 500
        body = json.loads(request.get_data(cache=True))
    except RecursionError:
        raise BadParam("body", f"nested too deeply (at most {MAX_JSON_DEPTH} levels)") from None
    except ValueError as exc:  # bad JSON or bytes that are no Unicode text
        raise BadParam("body", f"not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadParam("body", "must be a JSON object")
    try:
        check_json(body)
    except UnsafeJSON as exc:
        raise BadParam("body", str(exc)) from None
    return body


def _valid(model: type[BaseModel], body: dict):
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise bad_param(err, "body") from None


# the writes' bodies are validated in the view (skip_validation: see _json_body); their models document them
_UNKNOWN_ALERT = (404, "Unknown alert, or another user's")
_WRITE_ERRORS = (
    (401, "Sign in first (once accounts exist)"),
    (403, "This account may not change anything"),
    (413, "Body too large"),
    (415, "Not a JSON body"),
)


def _saved(alert_id: int):
    a = visible_alert(alert_id)
    if a is None:
        abort(404, description=f"unknown alert {alert_id}")
    return a


@bp.get("/alerts")
@api_doc.validate(resp=_doc(AlertList))
def alerts():
    """Saved searches and watches, with new-post counts and spike flags

    Once accounts exist: the signed-in user's own (admins: all)."""
    incs, now = incidents_by_id(), now_utc()
    return jsonify({"alerts": [alert_dict(evaluate(a, now, incs)) for a in visible_alerts()]})


@bp.post("/alerts")
@api_doc.validate(
    json=AlertInput,
    skip_validation=True,
    resp=_doc(
        Alert, (409, "Too many alerts"), *_WRITE_ERRORS, description="Created; Location: the alert's API URL", code=201
    ),
)
def new_alert():
    """Save a search or watch a company x incident type

    Takes a JSON body (Content-Type: application/json; anything else is 415)."""
    new = _valid(AlertInput, _json_body())
    try:
        a = create_alert(new.name, new.kind, new.params.model_dump(mode="json", by_alias=True, exclude_defaults=True))
    except TooManyAlerts as exc:
        return json_error(409, str(exc))
    resp = jsonify(alert_dict(evaluate(a)))
    resp.status_code = 201
    resp.headers["Location"] = url_for("api.alert", alert_id=a.id)
    return resp


_ALERT_ID = {"alert_id": "Alert id."}


@bp.get("/alerts/<int:alert_id>")
@api_doc.validate(resp=_doc(AlertDetail, _UNKNOWN_ALERT), path_parameter_descriptions=_ALERT_ID)
def alert(alert_id: int):
    """An alert, its state and its new posts (newest first)"""
    a = _saved(alert_id)
    incs = incidents_by_id()
    items = new_items(a, setting("FEED_ENTRIES"))
    return jsonify(
        {
            **alert_dict(evaluate(a, incidents=incs)),
            "new": [{**post_dict(it.post, incs), "matched": it.matched, "similar": it.similar} for it in items],
        }
    )


@bp.delete("/alerts/<int:alert_id>")
@api_doc.validate(resp=_doc(Deleted, _UNKNOWN_ALERT, *_WRITE_ERRORS), path_parameter_descriptions=_ALERT_ID)
def delete_alert(alert_id: int):
    """Delete an alert"""
    a = _saved(alert_id)
    remove_alert(a)
    return jsonify({"deleted": a.id})


@bp.post("/alerts/<int:alert_id>/seen")
@api_doc.validate(
    json=SeenInput,
    skip_validation=True,
    resp=_doc(Alert, _UNKNOWN_ALERT, *_WRITE_ERRORS),
    path_parameter_descriptions=_ALERT_ID,
)
def alert_seen(alert_id: int):
    """Mark an alert's posts seen (last_seen_at = now)

    Takes a JSON body, {} will do (Content-Type: application/json)."""
    _valid(SeenInput, _json_body())
    a = _saved(alert_id)
    store().mark_saved_search_seen(a.id, now_utc())
    return jsonify(alert_dict(evaluate(store().get_saved_search(a.id) or a)))
