"""Operations: the scheduler's status page (/status, /api/v1/status) and the
admin list of sources (/admin/sources) with "watch company X" (discovery).

Admins only once accounts exist (web/auth.py admin_required; everyone while
no account exists). Read-only except the discovery form, which appends
search URLs to the sources file (complaintwatch/sources.py)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for

from complaintwatch.runstate import status as run_status
from complaintwatch.sources import SourcesError, append_sources, load_sources, sources_path

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
def status_json():
    return jsonify(run_status(store(), sources_file()))


def _company_choices() -> list[tuple[str, str]]:
    from complaintwatch.companies import builtin_companies

    return sorted(((c.id, c.name) for c in builtin_companies()), key=lambda c: c[1].casefold())


@bp.get("/admin/sources")
@admin_required
def sources():
    st = run_status(store(), sources_file())
    return render_template("sources.html", st=st, companies=_company_choices(), result=None)


@bp.post("/admin/sources/discover")
@admin_required
def discover():
    from crawlers.discovery import discover as run_discovery
    from indexer.companies import CompanyResolver

    company = request.form.get("company", "").strip()
    path = sources_file()
    status_code = 200
    try:
        result = run_discovery(company, load_sources(path), CompanyResolver.default())
        added = append_sources(path, result.added, comment=f"discovered for {company}")
    except SourcesError as exc:
        flash(f"The sources file has problems; fix them first: {'; '.join(exc.problems[:3])}")
        return redirect(url_for("status.sources"), 303)
    except KeyError:
        result, added, status_code = None, [], 400
        flash(f"Unknown company “{company[:80]}”.")
    st = run_status(store(), path)
    return (
        render_template("sources.html", st=st, companies=_company_choices(), result=result, added=added),
        status_code,
    )
