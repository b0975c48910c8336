"""complaintwatch web UI and JSON API.

    app = create_app(store, embedder)   # embedder None -> text-only search

The store and embedder are injected, so the same app serves the embedded
SQLite store or any other Store backend.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException, InternalServerError

from indexer.store.base import Store

from . import privacy
from .feeds import post_title, text_start
from .safetext import strip_bidi
from .serialize import safe_url
from .services import DEFAULTS, Services, builtin_company_names, company_name
from .sites import site_info

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

TREND_HELP = {
    "rising": "At least twice the posts in the last 3 months that the company's own baseline predicts",
    "new": "First seen in the last 3 months",
    "fading": "Half or less of what the baseline predicts, or nothing in the last 15 months",
    "steady": "In line with the company's own baseline",
    "too_little_data": "Too few posts in the last 3 months and the 12 before them to call a trend",
}
TREND_TEXT = {"too_little_data": "too little data"}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/export.")


def _as_of():
    """(the date trends are computed as of, why it is fixed: None when it is today)."""
    from flask import current_app

    from .reports import today

    if current_app.config.get("AS_OF") is None:
        return today(), None
    return today(), current_app.config.get("AS_OF_REASON") or "set for this data, not today"


def create_app(store: Store, embedder=None, config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    if config:
        app.config.update(config)
    if isinstance(app.json, DefaultJSONProvider):  # Flask's own provider, the one a bare Flask() has
        app.json.ensure_ascii = False
        app.json.sort_keys = False
    names = app.config["COMPANY_NAMES"]
    app.extensions["complaintwatch"] = Services(
        store=store, embedder=embedder, company_names=dict(builtin_company_names() if names is None else names)
    )

    from . import api, auth, csrf, export, hosts
    from .views import alerts, apidocs, companies, compare, incidents, posts, search
    from .views import auth as auth_views

    blueprints: tuple[Blueprint, ...]
    blueprints = (search.bp, companies.bp, incidents.bp, posts.bp, api.bp, apidocs.bp, export.bp, compare.bp, alerts.bp)
    blueprints += (auth_views.bp,)
    from .views import status as status_views  # /status, /api/v1/status, /admin/sources (the scheduler's)

    blueprints += (status_views.bp,)
    for bp in blueprints:
        app.register_blueprint(bp)
    csrf.init_app(app)  # SECRET_KEY, sessions, the token check on every form POST
    hosts.init_app(app)  # the Host allow-list (ALLOWED_HOSTS), checked before anything else
    auth.init_app(app)  # accounts: sign-in, API tokens, who may read and write (off while no account exists)

    privacy.init_app(app)  # the `author` filter; refuses PSEUDONYMISE_AUTHORS without a key
    _author = app.jinja_env.filters["author"]
    # names are metadata: no bidi controls (web/safetext.py); the pseudonym is still of the name as stored
    app.jinja_env.filters["author"] = lambda name: strip_bidi(_author(name))
    app.jinja_env.filters["strip_bidi"] = strip_bidi
    app.jinja_env.filters["http_url"] = safe_url
    app.jinja_env.filters["post_title"] = post_title
    app.jinja_env.filters["text_start"] = text_start
    app.jinja_env.globals["TREND_HELP"] = TREND_HELP
    app.jinja_env.globals["TREND_TEXT"] = TREND_TEXT
    app.jinja_env.globals["as_of"] = _as_of
    app.jinja_env.globals["company_name"] = company_name
    app.jinja_env.globals["site_info"] = site_info  # a site's name and kind by host (web/sites.py)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.template_filter("date")
    def _date(dt, fmt: str = "%Y-%m-%d") -> str:
        return dt.strftime(fmt) if dt else "—"

    @app.template_filter("percent")
    def _percent(x) -> str:
        return "—" if x is None else f"{x:.0%}"

    @app.template_filter("nl2br")
    def _nl2br(text: str) -> Markup:
        # escape first, then turn newlines into <br>: the result is safe by construction
        return Markup("<br>\n").join(escape(line) for line in (text or "").split("\n"))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = exc.code or 500
        if _wants_json():
            return jsonify({"error": {"status": code, "message": exc.description or exc.name}}), code
        return render_template("error.html", code=code, name=exc.name, description=exc.description), code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s", request.path)
        return _http_error(InternalServerError())

    @app.after_request
    def _headers(resp):
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    return app


__all__ = ["create_app"]
