"""Operations: the scheduler's status page (/status, /api/v1/status) and the
admin list of sources (/admin/sources) with "watch company X" (discovery).

Admins only once accounts exist (web/auth.py admin_required; everyone while
no account exists). Read-only except the discovery form, which queues
"watch company X" for the scheduler (complaintwatch/watch.py)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from spectree import Response

from complaintwatch.runstate import status as run_status
from complaintwatch.sources import sources_path
from complaintwatch.watch import request_watch, watch_requests

from ..openapi import api_doc
from ..schemas import Error, Status
from ..services import store

try:
    from ..auth import admin_required  # admins only once an account exists
except ImportError:  # an installation without accounts: open, like the other pages

    def admin_required(view):
        return view


bp = Blueprint("status", __name__)


def sources_file() -> Path:
    """The app's SOURCES_FILE, else the setting (and its default in the state folder)."""
    configured = current_app.config.get("SOURCES_FILE")
    return Path(configured) if configured else sources_path()


@bp.get("/status")
@admin_required
def status_page():
    return render_template("status.html", st=run_status(store(), sources_file()))


@bp.get("/api/v1/status")
@admin_required
@api_doc.validate(resp=Response(HTTP_200=Status, HTTP_401=Error, HTTP_403=Error))  # in the API's OpenAPI document
def status_json():
    """The scheduler: each source's last crawl and next due time, the last index and delivery

    Admins only once accounts exist. See complaintwatch/runstate.py for the fields."""
    return jsonify(run_status(store(), sources_file()))


def _company_choices() -> list[tuple[str, str]]:
    from complaintwatch.companies import builtin_companies

    return sorted(((c.id, c.name) for c in builtin_companies()), key=lambda c: c[1].casefold())


def _sources_page(status_code: int = 200):
    st = run_status(store(), sources_file())
    return (
        render_template("sources.html", st=st, companies=_company_choices(), watches=watch_requests(store())),
        status_code,
    )


@bp.get("/admin/sources")
@admin_required
def sources():
    return _sources_page()


@bp.post("/admin/sources/discover")
@admin_required
def discover():
    """Queue "watch company X": `complaintwatch run` looks up the search pages
    on its next tick (complaintwatch/watch.py says why not here)."""
    from flask_login import current_user

    company = request.form.get("company", "").strip()
    if company not in dict(_company_choices()):
        flash(f"Unknown company “{company[:80]}”.")
        return _sources_page(400)
    who = getattr(current_user, "email", None) if current_user and current_user.is_authenticated else None
    request_watch(store(), company, by=who)
    flash(
        f"Queued: the scheduler looks up {dict(_company_choices())[company]}'s search pages on the configured "
        f"forums on its next run (or now: complaintwatch sources discover {company})."
    )
    return redirect(url_for("status.sources"), 303)
