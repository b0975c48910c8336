"""Company list, company page (recurring failures, timelines, replies) and feed."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, url_for

from complaintwatch.models import SearchFilters

from ..alerts import visible_alerts
from ..charts import sparkline, timeline_chart
from ..feeds import company_feed
from ..reports import company_counts, company_post_count, company_report, incidents_by_id
from ..services import company_name, setting, store

bp = Blueprint("companies", __name__)


@bp.get("/companies")
def companies():
    # ranked by complaints; comments and the company's own replies counted apart
    return render_template("companies.html", companies=list(company_counts().values()))


def _known(company_id: str) -> int:
    n = company_post_count(company_id)
    if n is None:
        abort(404, description="No such company.")
    return n


@bp.get("/company/<company_id>")
def company(company_id: str):
    report = company_report(company_id, _known(company_id))
    # one mention timeline (complaints and the company's replies on one scale);
    # per incident type only a sparkline in its table row
    tl = report.timeline
    assert tl is not None  # company_report always makes one
    timeline = timeline_chart(
        tl.complaints,
        tl.replies,
        tl.months,
        title=f"{company_name(company_id)}: complaints and company replies per month",
    )
    charts = {
        r.incident_id: sparkline(r.monthly, report.months[-24:], title=f"{r.label}: last 24 months")
        for r in report.rows
    }
    watches = {
        a.params.get("incident"): a
        for a in visible_alerts()  # the visitor's own watches once accounts exist
        if a.kind == "watch" and a.params.get("company") == company_id
    }
    return render_template(
        "company.html",
        report=report,
        charts=charts,
        timeline=timeline,
        incidents=incidents_by_id(),
        company_id=company_id,
        watches=watches,
    )


@bp.get("/company/<company_id>/feed.atom")
def feed(company_id: str):
    _known(company_id)
    posts = store().latest_posts(SearchFilters(company=company_id), limit=setting("FEED_ENTRIES"))
    body = company_feed(
        company_id,
        company_name(company_id),
        posts,
        self_url=url_for("companies.feed", company_id=company_id, _external=True),
        html_url=url_for("companies.company", company_id=company_id, _external=True),
        post_url=lambda p: url_for("posts.post", post_id=p.id, _external=True),
        incidents=incidents_by_id(),
    )
    return Response(body, mimetype="application/atom+xml")
