"""CSRF protection by Flask-WTF's CSRFProtect: a random token per session
(Flask's signed session cookie, SameSite=Lax), signed into the ``csrf_token``
form field or the ``X-CSRF-Token`` header (``X-CSRFToken`` works too); a
POST/PUT/PATCH/DELETE without a valid one is refused with 403.

Which requests are checked (``_check``):
- signed in with an API token (``Authorization: Bearer``): never; no other
  site can make a browser send that header without a CORS preflight this app
  never grants;
- signed in by the session cookie: always, the JSON API included;
- anonymous JSON API requests: not; their writes need an ``application/json``
  body (api.py), which no cross-site form can send, and once accounts exist
  an anonymous write is refused anyway (web/auth.py).
"""

from __future__ import annotations

import logging
import os
import secrets

from flask import Flask, abort, current_app, request
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf

log = logging.getLogger(__name__)

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"

csrf = CSRFProtect()


def csrf_token() -> str:
    """This session's signed token (the session gets one on first use); for templates and tests."""
    return generate_csrf()


def _check() -> None:
    from .auth import authenticated_by

    if request.method not in current_app.config["WTF_CSRF_METHODS"]:
        return
    how = authenticated_by()
    if how == "token" or (how is None and request.path.startswith("/api/")):
        return
    try:
        csrf.protect()
    except CSRFError as exc:
        abort(
            403,
            description=f"The form has expired or did not come from this site (CSRF token missing or wrong: "
            f"{exc.description})",
        )


def init_app(app: Flask) -> None:
    """A SECRET_KEY from the config or $COMPLAINTWATCH_SECRET_KEY, else a random
    one for this process (sessions, and so open forms, end with a restart),
    CSRFProtect with the check above before every request, and ``csrf_token()``
    in templates."""
    if not app.config.get("SECRET_KEY"):
        key = os.environ.get("COMPLAINTWATCH_SECRET_KEY", "").strip()
        if not key:
            key = secrets.token_hex(32)
            log.info("no SECRET_KEY or COMPLAINTWATCH_SECRET_KEY set: using a random one for this process")
        app.config["SECRET_KEY"] = key
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a token lives as long as its session
    app.config["WTF_CSRF_HEADERS"] = [HEADER, "X-CSRFToken"]
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # _check decides, after the API token is read
    csrf.init_app(app)
    app.before_request(_check)
