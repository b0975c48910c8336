"""Signing in and out, and the account page (where alerts are delivered)."""

from __future__ import annotations

import math

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from pydantic import ValidationError

from complaintwatch.delivery.models import DeliverySettings
from complaintwatch.delivery.settings import delivery_settings, save_delivery_settings

from ..auth import SessionUser, accounts, accounts_on, current_account, safe_next
from ..services import store

bp = Blueprint("auth", __name__)


def _login_page(error: str | None = None, status: int = 200, email: str = ""):
    nxt = safe_next(request.values.get("next"))
    return render_template("login.html", error=error, email=email, next=nxt, no_accounts=not accounts_on()), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return _login_page()
    email = request.form.get("email", "").strip()[:320]
    password = request.form.get("password", "")
    address = request.remote_addr or ""
    acc = accounts()
    wait = acc.locked_out(email, address)
    if wait is not None:
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        return _login_page(f"Too many failed sign-ins: try again in {minutes} minutes.", 429, email)
    user = acc.authenticate(email, password)
    if user is None:
        acc.record_failure(email, address)
        return _login_page("Wrong e-mail address or password.", 401, email)
    acc.clear_failures(email)
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    login_user(SessionUser(user))
    return redirect(safe_next(request.form.get("next")) or url_for("alerts.alerts"), 303)


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash("Signed out.")
    return redirect(url_for("search.search"), 303)


def _require_user():
    user = current_account()
    if user is None:
        abort(redirect(url_for("auth.login", next=request.path), 303))
    return user


@bp.get("/account")
def account():
    user = _require_user()
    return render_template("account.html", user=user, settings=delivery_settings(store(), user.id), error=None)


@bp.post("/account")
def save_account():
    user = _require_user()
    f = request.form
    old = delivery_settings(store(), user.id)
    secret = f.get("webhook_secret", "").strip() or old.webhook_secret  # blank: keep the one set
    try:
        new = DeliverySettings(
            mode=f.get("mode", "immediate"),
            email=f.get("email") == "on",
            webhook_url=f.get("webhook_url", ""),
            webhook_secret=secret if f.get("webhook_url", "").strip() else None,
        )
        if new.webhook_url and not new.webhook_secret:
            raise ValueError("a webhook needs a secret (16 characters or more) to sign its requests with")
    except (ValidationError, ValueError) as exc:
        msg = "; ".join(e["msg"] for e in exc.errors()) if isinstance(exc, ValidationError) else str(exc)
        return render_template("account.html", user=user, settings=old, error=f"Not saved: {msg}."), 400
    save_delivery_settings(store(), user.id, new)
    flash("Saved your delivery settings.")
    return redirect(url_for("auth.account"), 303)
