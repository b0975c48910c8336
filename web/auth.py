"""Who is asking, and may they: Flask-Login sessions, personal API tokens
(``Authorization: Bearer cw_...``) and the access rules.

The rules (``_gate``, before every request):
- no account exists yet (a fresh install, the demo): everything is open, as
  before accounts; the first ``complaintwatch user add`` turns the rules on;
- reading: anyone while PUBLIC_READ (the default), else signed-in users only
  (pages send anonymous visitors to /login, the API answers 401);
- writing (any POST/PUT/PATCH/DELETE but signing in and out): admins and
  members, by session or token; viewers never;
- alerts: each user sees and edits their own, admins all (web/alerts.py).

Views with stricter needs use ``admin_required`` (admin pages).
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, abort, g, jsonify, redirect, request, url_for
from flask_login import LoginManager, UserMixin, current_user

from complaintwatch.accounts import WRITERS, Accounts, User

from .services import setting, store

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
OPEN_ENDPOINTS = {"static", "auth.login", "auth.logout"}

login_manager = LoginManager()
login_manager.session_protection = "basic"


class SessionUser(UserMixin):
    """Flask-Login's view of an account."""

    def __init__(self, user: User):
        self.user = user

    def get_id(self) -> str:
        return str(self.user.id)


@login_manager.user_loader
def _load(user_id: str) -> SessionUser | None:
    user = accounts().get(user_id)  # a removed account's session ends here
    return SessionUser(user) if user else None


def accounts() -> Accounts:
    if "_cw_accounts" not in g:
        g._cw_accounts = Accounts(store())
    return g._cw_accounts


def accounts_on() -> bool:
    """Whether any account exists (read once per request)."""
    if "_cw_accounts_on" not in g:
        g._cw_accounts_on = accounts().any_user()
    return g._cw_accounts_on


def _bearer() -> str | None:
    # other schemes (a proxy's Basic auth) are not ours: ignored
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _resolve() -> None:
    token = _bearer()
    if token is not None:
        user = accounts().user_for_token(token)
        if user is None:
            _unauthorized("unknown or revoked API token", api=True)
        g._cw_account, g._cw_auth = user, "token"
    elif current_user.is_authenticated:
        g._cw_account, g._cw_auth = current_user.user, "session"
    else:
        g._cw_account, g._cw_auth = None, None


def current_account() -> User | None:
    """The signed-in user (by token or session), None when anonymous."""
    if "_cw_auth" not in g:
        _resolve()
    return g._cw_account


def authenticated_by() -> str | None:
    """ "token", "session" or None (anonymous)."""
    current_account()
    return g._cw_auth


def can_write() -> bool:
    if not accounts_on():
        return True
    user = current_account()
    return user is not None and user.role in WRITERS


def is_admin() -> bool:
    user = current_account()
    return not accounts_on() or (user is not None and user.role == "admin")


def safe_next(target: str | None) -> str | None:
    """A local path to go back to after signing in; None for anything that leaves the site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _unauthorized(message: str = "sign in first", api: bool | None = None):
    api = request.path.startswith("/api/") if api is None else api
    if api:
        resp = jsonify({"error": {"status": 401, "message": message}})
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="complaintwatch"'
        abort(resp)
    nxt = request.full_path.rstrip("?") if request.method == "GET" else request.path
    if request.method != "GET" and request.referrer:
        nxt = safe_next(urlsplit(request.referrer)._replace(scheme="", netloc="").geturl()) or nxt
    abort(redirect(url_for("auth.login", next=nxt), 303))


def _gate():
    if (request.endpoint or "") in OPEN_ENDPOINTS or not accounts_on():
        return None
    if request.endpoint == "alerts.feed" and "key" in request.args:
        return None  # a feed reader: the view checks the key (web/feedkeys.py)
    user = current_account()
    if request.method in UNSAFE:
        if user is None:
            _unauthorized()
        if user.role not in WRITERS:
            abort(403, description="This account can read, not change anything (viewer).")
        return None
    if user is None and not setting("PUBLIC_READ"):
        _unauthorized()
    return None


def admin_required(view):
    """For admin pages: admins only (everyone while no account exists)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if accounts_on():
            user = current_account()
            if user is None:
                _unauthorized()
            if user.role != "admin":
                abort(403, description="Admins only.")
        return view(*args, **kwargs)

    return wrapped


def init_app(app: Flask) -> None:
    """Flask-Login, the access gate and the template helpers. Call after csrf.init_app."""
    if "PUBLIC_READ" not in app.config:  # not given: the setting (COMPLAINTWATCH_PUBLIC_READ, config.toml)
        from complaintwatch.config import load_settings

        app.config["PUBLIC_READ"] = load_settings().public_read
    login_manager.init_app(app)
    app.before_request(_gate)
    app.jinja_env.globals.update(
        current_account=_for_templates(current_account, None),
        accounts_on=_for_templates(accounts_on, False),
        can_write=_for_templates(can_write, False),
        is_admin=_for_templates(is_admin, False),
    )


def _for_templates(fn, fallback):
    """For base.html, which error pages extend too: a store that fails (the
    error being shown) or a refused token must not fail the error page."""

    @wraps(fn)
    def safe():
        try:
            return fn()
        except Exception:
            return fallback

    return safe
