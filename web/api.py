"""The JSON API, /api/v1/...: the same data as the pages, for scripts."""

from __future__ import annotations

import json

from flask import Blueprint, abort, jsonify, request, url_for

from .alerts import TooManyAlerts, create_alert, evaluate, new_items, now_utc, visible_alert, visible_alerts
from .alerts import delete_alert as remove_alert
from .openapi import openapi_spec, operations
from .params import MAX_SQL_INT, BadParam, parse_companies, parse_search_params
from .reports import (
    company_counts,
    company_post_count,
    company_report,
    compare_report,
    incident_report,
    incidents_by_id,
)
from .safetext import MAX_JSON_DEPTH, UnsafeJSON, check_json
from .search import run_search
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


@bp.get("/search")
def search():
    params = parse_search_params(
        request.args,
        strict=True,
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
def companies():
    # most complaints first; company replies are never complaints
    return jsonify({"companies": [company_summary(c.company, c.posts, c) for c in company_counts().values()]})


@bp.get("/company/<company_id>")
def company(company_id: str):
    n = company_post_count(company_id)
    if n is None:
        abort(404, description=f"unknown company {company_id!r}")
    return jsonify(company_dict(company_report(company_id, n), incidents_by_id()))


@bp.get("/incidents")
def incidents():
    return jsonify({"incidents": [incident_dict(i) for i in store().incidents()]})


@bp.get("/incident/<int:incident_id>")
def incident(incident_id: int):
    incs = incidents_by_id()
    inc = incs.get(incident_id)
    if inc is None:
        abort(404, description=f"unknown incident type {incident_id}")
    return jsonify(incident_report_dict(incident_report(inc), incs))


@bp.get("/post/<int:post_id>")
def post(post_id: int):
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
def openapi():
    return jsonify(openapi_spec())


@bp.get("/", strict_slashes=False)  # /api/v1 and /api/v1/
def index():
    """The endpoints, one line each, from the OpenAPI description; links to it and to the docs page."""
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
def compare():
    known = dict(store().companies())
    chosen, _ = parse_companies(request.args, known, strict=True, max_companies=setting("COMPARE_MAX"))
    if len(chosen) < 2:
        raise BadParam("c", "give two or more companies, e.g. ?c=ozon&c=wildberries")
    return jsonify(compare_dict(compare_report(chosen)))


# -- alerts: the writes take a JSON body (never a form: see web/csrf.py); once accounts exist they need
# a signed-in user (Authorization: Bearer <token>, or the session with its CSRF token) who may write,
# and each user reaches only their own alerts (admins all; web/auth.py, web/alerts.py) --


def _json_body() -> dict:
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


def _saved(alert_id: int):
    a = visible_alert(alert_id)
    if a is None:
        abort(404, description=f"unknown alert {alert_id}")
    return a


@bp.get("/alerts")
def alerts():
    incs, now = incidents_by_id(), now_utc()
    return jsonify({"alerts": [alert_dict(evaluate(a, now, incs)) for a in visible_alerts()]})


@bp.post("/alerts")
def new_alert():
    body = _json_body()
    name, kind, params = body.get("name") or "", body.get("kind") or "search", body.get("params") or {}
    if not isinstance(name, str):
        raise BadParam("name", "must be a string")
    if not isinstance(kind, str):
        raise BadParam("kind", "must be search or watch")
    if not isinstance(params, dict):
        raise BadParam("params", "must be a JSON object")
    try:
        a = create_alert(name, kind, params)
    except TooManyAlerts as exc:
        return json_error(409, str(exc))
    resp = jsonify(alert_dict(evaluate(a)))
    resp.status_code = 201
    resp.headers["Location"] = url_for("api.alert", alert_id=a.id)
    return resp


@bp.get("/alerts/<int:alert_id>")
def alert(alert_id: int):
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
def delete_alert(alert_id: int):
    a = _saved(alert_id)
    remove_alert(a)
    return jsonify({"deleted": a.id})


@bp.post("/alerts/<int:alert_id>/seen")
def alert_seen(alert_id: int):
    _json_body()
    a = _saved(alert_id)
    store().mark_saved_search_seen(a.id, now_utc())
    return jsonify(alert_dict(evaluate(store().get_saved_search(a.id))))
