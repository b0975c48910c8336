"""Plain-dict forms of the models for the JSON API and exports."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import g, url_for

from complaintwatch.models import Incident, Post
from indexer.store.types import CompanyCounts

from .feedkeys import feed_url
from .privacy import shown_author
from .reports import (
    CompanyReport,
    CompareReport,
    IncidentReport,
    IncidentRow,
    IndustryComparison,
    counts_for,
    today,
)
from .safetext import strip_bidi
from .services import company_name
from .sites import site_name

if TYPE_CHECKING:
    from .alerts import AlertState


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def safe_url(url: str | None) -> str | None:
    """The URL when it is a plain http(s) link, else None (never a javascript: href)."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def story_source_dict(p: Post) -> dict:
    """Where else a story was posted (Store.same_story): the copy's id, source and links."""
    return {
        "id": p.id,
        "url": p.url,
        "source_site": p.source_site,
        "source_site_name": site_name(p.source_site),
        "published_at": iso(p.published_at),
        "links": {"html": url_for("posts.post", post_id=p.id), "api": url_for("api.post", post_id=p.id)},
    }


def post_dict(p: Post, incidents: dict[int, Incident] | None = None) -> dict:
    inc = incidents.get(p.incident_id) if incidents and p.incident_id is not None else None
    return {
        "id": p.id,
        "url": p.url,
        "source_site": p.source_site,  # the host (as filters take it)
        "source_site_name": site_name(p.source_site),  # the name the site gives itself; null: not known
        "site_kind": p.site_kind.value,
        "title": strip_bidi(p.title),
        "text": p.text,
        "author": strip_bidi(shown_author(p.author)),
        "published_at": iso(p.published_at),
        "language": p.language,
        "companies": list(p.companies),
        "incident_id": p.incident_id,
        "incident_label": inc.label_en if inc else None,
        "parent_url": p.parent_url,
        "thread_url": p.thread_url,
        "position": p.position,
        "is_company_reply": p.is_company_reply,
        "stance": p.stance,
        "rating": p.rating,
        "links": _post_links(p.id),
    }


_ID = 918273645  # a post id no store reaches: url_for once per request, then the id put in its place


def _post_links(post_id: int | None) -> dict[str, str]:
    """The post's page and API URLs, as url_for gives them: two url_for calls per post
    were a tenth of an API search's CPU (web/post_html.py does the same for pages)."""
    patterns = g.get("_cw_post_link_patterns")
    if patterns is None:
        patterns = g._cw_post_link_patterns = [
            tuple(url.split(str(_ID))) if (url := url_for(ep, post_id=_ID)).count(str(_ID)) == 1 else None
            for ep in ("posts.post", "api.post")
        ]
    if not isinstance(post_id, int) or isinstance(post_id, bool) or None in patterns:
        return {"html": url_for("posts.post", post_id=post_id), "api": url_for("api.post", post_id=post_id)}
    (h1, t1), (h2, t2) = patterns
    return {"html": f"{h1}{post_id}{t1}", "api": f"{h2}{post_id}{t2}"}


def incident_dict(i: Incident) -> dict:
    return {
        "id": i.id,
        "label_en": i.label_en,
        "label_ru": i.label_ru,
        "keywords": list(i.keywords),
        "size": i.size,
        "taxonomy_key": i.taxonomy_key,
        "representatives": list(i.representatives),
        "links": {
            "html": url_for("incidents.incident", incident_id=i.id),
            "api": url_for("api.incident", incident_id=i.id),
        },
    }


def company_summary(company: str, posts: int, counts: CompanyCounts | None = None) -> dict:
    """``posts``: everything stored about the company; complaints (opening posts
    and reviews by customers), comments (replies by customers) and company
    replies apart: company replies are never complaints."""
    counts = counts or counts_for(company)
    return {
        "id": company,
        "name": company_name(company),
        "posts": posts,
        "complaints": counts.complaints,
        "comments": counts.comments,
        "company_replies": counts.company_replies,
        "links": {
            "html": url_for("companies.company", company_id=company),
            "api": url_for("api.company", company_id=company),
            "feed": url_for("companies.feed", company_id=company),
        },
    }


def incident_row_dict(r: IncidentRow) -> dict:
    return {
        "incident_id": r.incident_id,
        "label_en": r.incident.label_en if r.incident else None,
        "label_ru": r.incident.label_ru if r.incident else None,
        "count": r.count,
        "first_seen": iso(r.first_seen),
        "last_seen": iso(r.last_seen),
        "trend": r.trend.label,
        "recent_count": r.trend.recent,
        "expected_recent": round(r.trend.expected, 2),
        "monthly": dict(sorted(r.monthly.items())),
        "share": None if r.share is None else round(r.share, 4),  # of the company's complaints
        "per_100": r.per_100,  # of this type per 100 of the company's complaints
        # the same over the other companies of its industry (null: too few of them; see "industry")
        "industry_share": None if r.industry_share is None else round(r.industry_share, 4),
        "industry_per_100": r.industry_per_100,
    }


def industry_dict(ind: IndustryComparison | None) -> dict | None:
    if ind is None:
        return None
    return {
        "id": ind.industry,
        "name": ind.name,
        "peers": [{"id": c, "name": company_name(c)} for c in sorted(ind.peers)],
        "complaints": ind.complaints,  # the peers' complaints, a story once
        "comparable": ind.enough,  # at least min_peers other companies with complaints
        "min_peers": ind.min_peers,
        "note": ind.note,
    }


def company_dict(rep: CompanyReport, incidents: dict[int, Incident]) -> dict:
    return {
        **company_summary(rep.id, rep.post_count, rep.counts),
        "as_of": today().isoformat(),  # the date trends are computed as of
        "recurring_failures": [incident_row_dict(r) for r in rep.rows],
        "industry": industry_dict(rep.industry),
        "stances": dict(rep.stances),
        "replies": {
            "threads_with_comments": rep.threads,
            "threads_with_company_reply": rep.replied,
            "share": None if rep.reply_share is None else round(rep.reply_share, 4),
        },
        **responses_dict(rep),
        "timeline": timeline_dict(rep),
        "latest_posts": [post_dict(p, incidents) for p in rep.latest],
    }


def responses_dict(rep: CompanyReport) -> dict:
    """reply_rate: the company's complaints with a company reply in their thread
    (0..1); median_response_hours: complaint to first company reply; unanswered:
    the newest complaints without one."""
    r = rep.responses
    if r is None:
        return {}
    return {
        "complaints_answered": r.answered,
        "complaints_considered": r.complaints,
        "reply_rate": None if r.reply_rate is None else round(r.reply_rate, 4),
        "median_response_hours": r.median_response_hours,
        "unanswered_total": r.unanswered_total,
        "unanswered": [
            {
                "id": c.post_id,
                "url": c.url,
                "title": strip_bidi(c.title),
                "published_at": iso(c.published_at),
                "incident_id": c.incident_id,
                "page": url_for("posts.post", post_id=c.post_id, _external=True),
            }
            for c in r.unanswered
        ],
    }


def timeline_dict(rep: CompanyReport) -> list[dict] | None:
    t = rep.timeline
    if t is None:
        return None
    return [
        {"month": m, "complaints": t.complaints.get(m, 0), "company_replies": t.replies.get(m, 0)} for m in t.months
    ]


def incident_report_dict(rep: IncidentReport, incidents: dict[int, Incident]) -> dict:
    return {
        "incident": incident_dict(rep.incident),
        "companies": [{"id": c, "name": company_name(c), "posts": n} for c, n in rep.companies],
        "posts": [post_dict(p, incidents) for p in rep.posts],
        "representatives": [post_dict(p, incidents) for p in rep.representatives],
    }


def compare_dict(rep: CompareReport) -> dict:
    return {
        "as_of": today().isoformat(),
        "companies": [
            {
                **company_summary(col.id, col.post_count, col.counts),
                "replies": {
                    "threads_with_comments": col.threads,
                    "threads_with_company_reply": col.replied,
                    "share": None if col.reply_share is None else round(col.reply_share, 4),
                },
            }
            for col in rep.columns
        ],
        "incidents": [
            {
                "incident_id": iid,
                "label_en": rep.incidents[iid].label_en if iid in rep.incidents else None,
                "label_ru": rep.incidents[iid].label_ru if iid in rep.incidents else None,
                "cells": {
                    col.id: (
                        {
                            "count": r.count,
                            "trend": r.trend.label,
                            "recent_count": r.trend.recent,
                            "expected_recent": round(r.trend.expected, 2),
                            "last_seen": iso(r.last_seen),
                        }
                        if (r := col.rows.get(iid))
                        else None
                    )
                    for col in rep.columns
                },
            }
            for iid in rep.incident_ids
        ],
    }


def alert_dict(state: AlertState) -> dict:
    a, sp = state.alert, state.spike
    # Any: url_for's **values (mypy: a str there could fill its `_external: bool`)
    search_args: dict[str, Any] = state.search_args
    return {
        "id": a.id,
        "name": a.name,
        "kind": a.kind,
        "params": dict(a.params),
        "description": state.description,
        "created_at": iso(a.created_at),
        "last_seen_at": iso(a.last_seen_at),
        "new_posts": state.new,
        "spike": {
            "spike": sp.spike,
            "trend": sp.label,
            "last_30_days": sp.recent,
            "previous_180_days": sp.baseline,
            "expected_30_days": round(sp.expected, 2),
        },
        "links": {
            "html": url_for("alerts.alert", alert_id=a.id),
            "api": url_for("api.alert", alert_id=a.id),
            "feed": feed_url(a),  # with its key once accounts exist: what a feed reader needs
            "search": url_for("search.search", **search_args),
        },
    }
