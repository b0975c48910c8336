"""Alerts: saved searches and company x incident type watches; their list with
new-post counts and spike flags, one alert's new posts, and an Atom feed each.

Every POST form carries the session's CSRF token (web.csrf). Once accounts
exist each visitor sees their own alerts (admins all): another user's alert is
a 404 here, as if it did not exist (web/alerts.py)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from ..alerts import (
    TooManyAlerts,
    create_alert,
    delete_alert,
    evaluate,
    matching_posts,
    new_items,
    now_utc,
    visible_alert,
    visible_alerts,
)
from ..feedkeys import alert_for_key, feed_url
from ..feeds import posts_feed
from ..params import BadParam
from ..reports import incidents_by_id
from ..services import setting, store

bp = Blueprint("alerts", __name__)


@bp.app_context_processor
def _feed_urls():
    return {"alert_feed_url": feed_url}


def _get(alert_id: int):
    a = visible_alert(alert_id)
    if a is None:
        abort(404, description="No such alert.")
    return a


def _list(error: str | None = None, status: int = 200):
    incs = incidents_by_id()
    now = now_utc()
    states = [evaluate(a, now, incs) for a in visible_alerts()]
    return render_template("alerts.html", states=states, error=error), status


@bp.get("/alerts")
def alerts():
    return _list()


@bp.post("/alerts")
def create():
    f = request.form
    try:
        a = create_alert(f.get("name", ""), f.get("kind", "search"), f)
    except BadParam as exc:
        return _list(f"Could not save the alert: {exc.name}: {exc.message}.", 400)
    except TooManyAlerts as exc:
        return _list(f"Could not save the alert: {exc}.", 409)
    flash(f"Saved the alert “{a.name}”.")
    return redirect(url_for("alerts.alerts", _anchor=f"alert-{a.id}"), 303)


@bp.get("/alerts/<int:alert_id>")
def alert(alert_id: int):
    a = _get(alert_id)
    incs = incidents_by_id()
    return render_template(
        "alert.html",
        state=evaluate(a, incidents=incs),
        posts=new_items(a, setting("FEED_ENTRIES")),
        incidents=incs,
    )


@bp.post("/alerts/<int:alert_id>/seen")
def seen(alert_id: int):
    a = _get(alert_id)
    store().mark_saved_search_seen(a.id, now_utc())
    target = url_for("alerts.alert", alert_id=a.id) if request.form.get("back") == "alert" else url_for("alerts.alerts")
    return redirect(target, 303)


@bp.post("/alerts/<int:alert_id>/delete")
def delete(alert_id: int):
    a = _get(alert_id)
    delete_alert(a)
    flash(f"Deleted the alert “{a.name}”.")
    return redirect(url_for("alerts.alerts"), 303)


@bp.get("/alerts/<int:alert_id>/feed.atom")
def feed(alert_id: int):
    # a feed reader brings the alert's key, not a session (web/feedkeys.py)
    key = request.args.get("key")
    if key is not None:
        a = alert_for_key(alert_id, key)
        if a is None:
            abort(404, description="No such alert, or the feed key is no longer valid.")
    else:
        a = _get(alert_id)
    body = posts_feed(
        f"complaintwatch alert: {a.name}",
        "The newest posts matching this alert",
        matching_posts(a, setting("FEED_ENTRIES")),
        self_url=feed_url(a, external=True),
        html_url=url_for("alerts.alert", alert_id=a.id, _external=True),
        post_url=lambda p: url_for("posts.post", post_id=p.id, _external=True),
        incidents=incidents_by_id(),
    )
    return Response(body, mimetype="application/atom+xml")
