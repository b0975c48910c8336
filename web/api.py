"""The JSON API, /api/v1/...: the same data as the pages, for scripts."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from .openapi import openapi_spec
from .params import MAX_SQL_INT, BadParam, parse_search_params
from .reports import company_post_count, company_report, incident_report, incidents_by_id
from .search import run_search
from .serialize import company_dict, company_summary, incident_dict, incident_report_dict, post_dict
from .services import setting, store

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
    return jsonify(
        {
            "query": params.q,
            "filters": params.filter_dict(),
            "sort": params.sort,
            "mode": res.mode,
            "page": res.page,
            "per_page": res.per_page,
            "total": res.total,
            "pages": res.pages,
            "has_next": res.has_next,
            "results": [
                {
                    "post": post_dict(it.post, incs),
                    "score": it.score,
                    "matched": it.matched,
                    "snippet_html": str(it.snippet),
                }
                for it in res.items
            ],
        }
    )


@bp.get("/companies")
def companies():
    return jsonify({"companies": [company_summary(c, n) for c, n in store().companies()]})


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
    return jsonify({"post": post_dict(p, incs), "thread": [post_dict(t, incs) for t in thread]})


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_spec())
