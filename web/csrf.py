"""CSRF protection for the HTML forms that change something (alerts).

A random token per session (Flask's signed session cookie, SameSite=Lax):
every POST/PUT/PATCH/DELETE outside /api/ must echo it in the ``csrf_token``
form field or the ``X-CSRF-Token`` header, or it is refused with 403.

The JSON API is not cookie-authenticated form territory: its writes require
an ``application/json`` body (api.py), which no cross-site form can send and
a cross-site script can only send after a CORS preflight this app never
grants.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets

from flask import Flask, abort, request, session

log = logging.getLogger(__name__)

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def csrf_token() -> str:
    """This session's token (created on first use); for the templates."""
    token = session.get(FIELD)
    if not isinstance(token, str) or not token:
        token = session[FIELD] = secrets.token_urlsafe(32)
    return token


def _check() -> None:
    if request.method not in _UNSAFE or request.path.startswith("/api/"):
        return
    expected = session.get(FIELD)
    sent = request.form.get(FIELD) or request.headers.get(HEADER) or ""
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(403, description="The form has expired or did not come from this site (CSRF token missing or wrong).")


def init_app(app: Flask) -> None:
    """A SECRET_KEY from the config or $COMPLAINTWATCH_SECRET_KEY, else a random
    one for this process (sessions, and so open forms, end with a restart), the
    token check before every request and ``csrf_token()`` in templates."""
    if not app.config.get("SECRET_KEY"):
        key = os.environ.get("COMPLAINTWATCH_SECRET_KEY", "").strip()
        if not key:
            key = secrets.token_hex(32)
            log.info("no SECRET_KEY or COMPLAINTWATCH_SECRET_KEY set: using a random one for this process")
        app.config["SECRET_KEY"] = key
    app.before_request(_check)
    app.jinja_env.globals["csrf_token"] = csrf_token
