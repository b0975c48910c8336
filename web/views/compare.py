"""Two or more companies side by side on incident types."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from ..params import parse_companies
from ..reports import company_counts, compare_report
from ..services import setting, store

bp = Blueprint("compare", __name__)


@bp.get("/compare")
def compare():
    everyone = store().companies()
    chosen, notices = parse_companies(request.args, dict(everyone), strict=False, max_companies=setting("COMPARE_MAX"))
    report = compare_report(chosen) if len(chosen) >= 2 else None
    ids = [c for c, _ in chosen]
    return render_template(
        "compare.html",
        report=report,
        chosen=ids,
        companies=list(company_counts().values()),  # most complaints first
        notices=notices,
        max_companies=setting("COMPARE_MAX"),
        api_url=url_for("api.compare", c=ids) if report else None,
    )
