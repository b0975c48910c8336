"""The search page: one box, filters, hybrid results; empty query = latest posts."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from complaintwatch.models import POST_TYPES
from indexer.stance import STANCES

from ..aggregates import cached
from ..facet_html import facet_select
from ..params import parse_search_params
from ..post_html import post_item_html, post_meta_html, result_items_html
from ..reports import company_counts, incidents_by_id
from ..search import facet_counts, facet_options, run_search
from ..services import setting, store
from ..suggest import company_suggestion

bp = Blueprint("search", __name__)
bp.add_app_template_global(facet_select, "facet_select")
# posts in lists on every page (the post_item and post_meta macros call these)
for _fn in (post_item_html, post_meta_html, result_items_html):
    bp.add_app_template_global(_fn, _fn.__name__)


@bp.get("/")
@bp.get("/search")
def search():
    params = parse_search_params(
        request.args,
        strict=False,
        max_results=setting("MAX_RESULTS"),
        per_page=setting("PER_PAGE"),
        max_per_page=setting("PER_PAGE"),
    )
    result = run_search(params)
    export_args = params.query_args(page=None)
    s = store()
    incidents = incidents_by_id()
    # each drop-down counts this search under the other filters; every value the store knows
    # stays choosable (with 0), the store's languages or the configured ones while it has none
    known = {
        "company": list(company_counts()),
        "site": [site for site, _ in cached("sites", s.sites)],
        "lang": [lang for lang, _ in cached("languages", s.languages)] or list(setting("LANGUAGES")),
        "incident": list(incidents),
        "type": list(POST_TYPES),
        "stance": list(STANCES),
    }
    return render_template(
        "search.html",
        params=params,
        result=result,
        suggestion=company_suggestion(params),
        incidents=incidents,
        facets=facet_options(params, facet_counts(params), incidents, known),
        export_csv=url_for("export.export_csv", **export_args),
        export_json=url_for("export.export_json", **export_args),
        api_url=url_for("api.search", **params.query_args()),
        page_url=lambda n: url_for("search.search", **params.query_args(page=n)),
        similar_url=lambda on: url_for("search.search", **params.query_args(page=None, similar=None if on else 0)),
    )
