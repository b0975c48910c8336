"""Accounts and access (issue 15): argon2-hashed users with roles, personal
API tokens kept only as hashes, per-user alerts, public read-only mode, CSRF by
Flask-WTF for session writes (JSON API included) but not for token writes, a
light lockout after failed sign-ins, and the `complaintwatch user` commands.

Real stores (SQLite and Elasticsearch), the real app through Flask's test
client, a real Chromium for the sign-in page at phone width."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from complaintwatch.accounts import LOCKOUT_FAILURES, AccountError, Accounts, token_digest
from complaintwatch.cli import main
from web import create_app

ATOM = "{http://www.w3.org/2005/Atom}"
PASSWORD = "correct horse battery"
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def app_for(store, **config):
    return create_app(store, None, {"TESTING": True, "SECRET_KEY": "test", **config})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def csrf(client, path="/login") -> str:
    m = TOKEN_FIELD.search(client.get(path).get_data(as_text=True))
    assert m, path
    return m.group(1)


def sign_in(client, email: str, password: str = PASSWORD, environ_base: dict | None = None, **extra):
    form = {"email": email, "password": password, "csrf_token": csrf(client), **extra}
    return client.post("/login", data=form, environ_base=environ_base or {})


# -- the account records ------------------------------------------------------------------


def test_users_passwords_and_tokens_are_stored_as_hashes(store):
    acc = Accounts(store)
    assert not acc.any_user()
    admin = acc.add("Admin@Example.org", PASSWORD, "admin")
    assert admin.email == "admin@example.org" and admin.role == "admin"
    assert admin.password_hash.startswith("$argon2id$") and PASSWORD not in json.dumps(
        store.state_list("user"), ensure_ascii=False
    )
    assert acc.any_user()
    with pytest.raises(AccountError, match="already an account"):
        acc.add("admin@example.org", PASSWORD, "member")
    for bad in ("not-an-address", "a@b", "two@example.org, three@example.org", "x@example.org\nBcc: y@example.org"):
        with pytest.raises(AccountError, match="not an e-mail address"):
            acc.add(bad, PASSWORD)
    with pytest.raises(AccountError, match="at least 8"):
        acc.add("short@example.org", "1234567")
    with pytest.raises(AccountError, match="role"):
        acc.add("role@example.org", PASSWORD, "root")

    assert acc.authenticate("ADMIN@example.org", PASSWORD).id == admin.id
    assert acc.authenticate("admin@example.org", PASSWORD + "x") is None
    assert acc.authenticate("nobody@example.org", PASSWORD) is None

    token = acc.new_token(admin)
    stored = store.state_list("api_token")
    assert [k for k, _ in stored] == [token_digest(token)]  # only the SHA-256 of the token is kept
    assert token not in json.dumps(stored)
    assert acc.user_for_token(token).id == admin.id
    assert acc.user_for_token(token + "x") is None and acc.user_for_token("Bearer") is None
    short, _ = acc.user_tokens(admin)[0]
    assert acc.revoke_token(admin, short) and acc.user_for_token(token) is None


def test_the_last_admin_stays_unless_forced(store):
    acc = Accounts(store)
    acc.add("admin@example.org", PASSWORD, "admin")
    member = acc.add("member@example.org", PASSWORD, "member")
    acc.set_owner(7, member)
    with pytest.raises(AccountError, match="last admin"):
        acc.remove("admin@example.org")
    acc.remove("member@example.org")
    assert acc.owners_by_alert() == {} and acc.by_email("member@example.org") is None
    acc.remove("admin@example.org", force=True)
    assert not acc.any_user()
    # the address is free again, under a new id (ids are never reused)
    assert acc.add("member@example.org", PASSWORD).id > member.id


# -- access over HTTP --------------------------------------------------------------------------


def test_access_rules_by_role_token_and_owner(store):
    app = app_for(store)
    c = app.test_client()
    # no account yet: today's open behaviour (the demo, a fresh install)
    r = c.post("/api/v1/alerts", json={"name": "before accounts", "params": {"q": "refund"}})
    assert r.status_code == 201, r.data
    legacy = r.get_json()["id"]

    acc = Accounts(store)
    admin = acc.add("admin@example.org", PASSWORD, "admin")
    alice = acc.add("alice@example.org", PASSWORD, "member")
    bob = acc.add("bob@example.org", PASSWORD, "member")
    viewer = acc.add("viewer@example.org", PASSWORD, "viewer")
    tok = {u.email.split("@")[0]: acc.new_token(u) for u in (admin, alice, bob, viewer)}

    # anonymous: reads pages and read endpoints (public_read), writes nothing, sees no alert
    assert c.get("/").status_code == 200 and c.get("/api/v1/search?q=refund").status_code == 200
    r = c.post("/api/v1/alerts", json={"params": {"q": "refund"}})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.get_json()["error"]["status"] == 401
    assert c.delete(f"/api/v1/alerts/{legacy}").status_code == 401
    assert c.get("/api/v1/alerts").get_json()["alerts"] == []
    assert c.get(f"/api/v1/alerts/{legacy}").status_code == 404
    assert "Sign in" in c.get("/alerts").get_data(as_text=True)

    # a member's alert is theirs
    r = c.post("/api/v1/alerts", json={"name": "alice's", "params": {"q": "card"}}, headers=bearer(tok["alice"]))
    assert r.status_code == 201, r.data
    mine = r.get_json()["id"]
    assert acc.owners_by_alert() == {mine: alice.id}

    def names(token):
        return sorted(a["name"] for a in c.get("/api/v1/alerts", headers=bearer(token)).get_json()["alerts"])

    assert names(tok["alice"]) == ["alice's"]
    assert names(tok["bob"]) == []
    assert names(tok["admin"]) == ["alice's", "before accounts"]  # the unowned one: admins only
    for who in ("bob", "viewer"):
        assert c.get(f"/api/v1/alerts/{mine}", headers=bearer(tok[who])).status_code == 404
    assert c.get(f"/api/v1/alerts/{legacy}", headers=bearer(tok["alice"])).status_code == 404
    assert c.delete(f"/api/v1/alerts/{mine}", headers=bearer(tok["bob"])).status_code == 404
    assert c.delete(f"/api/v1/alerts/{legacy}", headers=bearer(tok["alice"])).status_code == 404

    # viewers read, never write
    r = c.post("/api/v1/alerts", json={"params": {"q": "x"}}, headers=bearer(tok["viewer"]))
    assert r.status_code == 403 and "viewer" in r.get_json()["error"]["message"]
    assert c.post(f"/api/v1/alerts/{mine}/seen", json={}, headers=bearer(tok["alice"])).status_code == 200

    # a wrong or revoked token is refused, not taken for anonymous
    assert c.get("/api/v1/search?q=x", headers=bearer("cw_nonsense")).status_code == 401
    short, _ = acc.user_tokens(bob)[0]
    acc.revoke_token(bob, short)
    assert c.get("/api/v1/alerts", headers=bearer(tok["bob"])).status_code == 401
    # a proxy's Basic auth is not ours to judge
    assert c.get("/api/v1/search?q=x", headers={"Authorization": "Basic eDp5"}).status_code == 200

    # admins reach every alert
    assert c.delete(f"/api/v1/alerts/{legacy}", headers=bearer(tok["admin"])).get_json() == {"deleted": legacy}
    assert c.delete(f"/api/v1/alerts/{mine}", headers=bearer(tok["alice"])).get_json() == {"deleted": mine}
    assert store.saved_searches() == [] and acc.owners_by_alert() == {}


def test_private_mode_needs_sign_in_for_everything(store, monkeypatch):
    acc = Accounts(store)
    viewer = acc.add("viewer@example.org", PASSWORD, "viewer")
    token = acc.new_token(viewer)
    assert app_for(store).test_client().get("/api/v1/companies").status_code == 200  # public_read by default
    monkeypatch.setenv("COMPLAINTWATCH_PUBLIC_READ", "false")  # the setting (complaintwatch/config.py)
    c = app_for(store).test_client()
    r = c.get("/search?q=refund")
    assert r.status_code == 303 and r.headers["Location"].startswith("/login?next=")
    assert "/search?q%3Drefund" in r.headers["Location"] or "/search%3Fq%3Drefund" in r.headers["Location"]
    for path in ("/api/v1/search?q=x", "/api/v1/companies", "/export.csv?q=x"):
        assert c.get(path).status_code in (401, 303), path
    assert c.get("/api/v1/companies").status_code == 401
    assert c.get("/static/style.css").status_code == 200  # the sign-in page needs its style
    assert c.get("/login").status_code == 200
    assert c.get("/api/v1/companies", headers=bearer(token)).status_code == 200
    assert sign_in(c, "viewer@example.org").status_code == 303
    assert c.get("/search?q=refund").status_code == 200


def test_session_sign_in_csrf_and_sign_out(store):
    acc = Accounts(store)
    acc.add("admin@example.org", PASSWORD, "admin")
    alice = acc.add("alice@example.org", PASSWORD, "member")
    token = acc.new_token(alice)
    c = app_for(store).test_client()

    page = c.get("/login?next=/alerts").get_data(as_text=True)
    assert 'type="password"' in page and 'name="next" value="/alerts"' in page
    r = sign_in(c, "alice@example.org", "wrong password")
    assert r.status_code == 401 and "Wrong e-mail address or password." in r.get_data(as_text=True)
    assert sign_in(c, "alice@example.org", next="//evil.example/x").headers["Location"] == "/alerts"
    html = c.get("/alerts").get_data(as_text=True)
    assert "alice@example.org" in html and 'action="/logout"' in html

    # the session's JSON writes need the CSRF token (header), like its forms
    r = c.post("/api/v1/alerts", json={"name": "by session", "params": {"q": "refund"}})
    assert r.status_code == 403 and "CSRF" in r.get_json()["error"]["message"]
    token_in_page = re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)
    r = c.post(
        "/api/v1/alerts",
        json={"name": "by session", "params": {"q": "refund"}},
        headers={"X-CSRF-Token": token_in_page},
    )
    assert r.status_code == 201
    # a token-authenticated write needs none: no browser sends that header cross-site
    fresh = app_for(store).test_client()
    r = fresh.post("/api/v1/alerts", json={"name": "by token", "params": {"q": "card"}}, headers=bearer(token))
    assert r.status_code == 201
    assert {a["name"] for a in c.get("/api/v1/alerts").get_json()["alerts"]} == {"by session", "by token"}

    # the form on the alerts page works for the signed-in member
    r = c.post("/alerts", data={"kind": "search", "q": "loan", "csrf_token": csrf(c, "/alerts")})
    assert r.status_code == 303
    assert len(c.get("/api/v1/alerts").get_json()["alerts"]) == 3

    # signing out needs the token too, then the session writes nothing
    assert c.post("/logout").status_code == 403
    assert c.post("/logout", data={"csrf_token": csrf(c, "/alerts")}).status_code == 303
    assert c.post("/api/v1/alerts", json={"params": {"q": "x"}}).status_code == 401
    assert c.get("/api/v1/alerts").get_json()["alerts"] == []


def test_removed_account_loses_its_session(store):
    acc = Accounts(store)
    acc.add("admin@example.org", PASSWORD, "admin")
    acc.add("gone@example.org", PASSWORD, "member")
    c = app_for(store).test_client()
    assert sign_in(c, "gone@example.org").status_code == 303
    assert "gone@example.org" in c.get("/alerts").get_data(as_text=True)
    acc.remove("gone@example.org")
    html = c.get("/alerts").get_data(as_text=True)
    assert "gone@example.org" not in html and "Sign in" in html


def test_failed_sign_ins_lock_out_for_a_while(store):
    acc = Accounts(store)
    acc.add("admin@example.org", PASSWORD, "admin")
    c = app_for(store).test_client()
    for _ in range(LOCKOUT_FAILURES):
        assert sign_in(c, "admin@example.org", "guess guess").status_code == 401
    r = sign_in(c, "admin@example.org")  # the right password, too late
    assert r.status_code == 429 and "Too many failed sign-ins" in r.get_data(as_text=True)
    # from another address the account is still locked
    other = app_for(store).test_client()
    assert sign_in(other, "admin@example.org", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 429
    assert acc.locked_out("admin@example.org", "10.9.9.9") is not None  # the account, from anywhere
    assert acc.locked_out("other@example.org", "127.0.0.1") is not None  # the address, for any account
    assert acc.locked_out("other@example.org", "10.9.9.9") is None
    # the run's clock ticks from NOW: 16 minutes after these failures, wherever it stands
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=16), tick=True):
        assert sign_in(c, "admin@example.org").status_code == 303
    # a success clears the account's count (the address's ages off)
    assert acc.locked_out("admin@example.org", "10.9.9.9") is None


def test_account_page_saves_delivery_settings(store):
    from complaintwatch.delivery.settings import delivery_settings

    acc = Accounts(store)
    acc.add("admin@example.org", PASSWORD, "admin")
    alice = acc.add("alice@example.org", PASSWORD, "member")
    c = app_for(store).test_client()
    assert c.get("/account").headers["Location"].startswith("/login")
    sign_in(c, "alice@example.org")
    assert delivery_settings(store, alice.id).mode == "immediate"  # the default
    form = {"mode": "digest", "email": "on", "webhook_url": "ftp://x.example/", "webhook_secret": "s" * 20}
    r = c.post("/account", data={**form, "csrf_token": csrf(c, "/account")})
    assert r.status_code == 400 and "http://" in r.get_data(as_text=True)
    form["webhook_url"] = "https://hooks.example.org/cw"
    assert c.post("/account", data={**form, "csrf_token": csrf(c, "/account")}).status_code == 303
    s = delivery_settings(store, alice.id)
    assert (s.mode, s.email, s.webhook_url, s.webhook_secret) == ("digest", True, form["webhook_url"], "s" * 20)
    page = c.get("/account").get_data(as_text=True)
    assert "s" * 20 not in page and "leave blank to keep it" in page  # the secret is never shown again
    form.pop("webhook_secret")  # blank: kept
    form.pop("email")  # unticked: no mail
    assert c.post("/account", data={**form, "csrf_token": csrf(c, "/account")}).status_code == 303
    s = delivery_settings(store, alice.id)
    assert s.email is False and s.webhook_secret == "s" * 20


# -- the CLI ---------------------------------------------------------------------------------


def test_user_commands(tmp_path, monkeypatch, capsys):
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*argv, stdin=""):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["--store", db, "user", *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, _ = run("add", "boss@example.org", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0 and "access control is now on" in out
    code, _, err = run("add", "boss@example.org", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 1 and "already an account" in err
    code, _, err = run("add", "weak@example.org", "--password-stdin", stdin="123\n")
    assert code == 1 and "at least 8" in err
    code, token, _ = run("token", "boss@example.org")
    token = token.strip()
    assert code == 0 and token.startswith("cw_")
    code, listed, _ = run("token", "boss@example.org", "--list")
    short = listed.split()[0]
    assert token_digest(token).startswith(short) and token not in listed
    code, out, _ = run("list")
    assert "admin   boss@example.org" in out and "1 API tokens" in out

    from indexer.store import open_store

    with open_store(db) as store:
        c = app_for(store).test_client()
        assert c.post("/api/v1/alerts", json={"params": {"q": "x"}}, headers=bearer(token)).status_code == 201
        assert run("token", "boss@example.org", "--revoke", short)[0] == 0
        assert c.get("/api/v1/alerts", headers=bearer(token)).status_code == 401
    assert run("remove", "boss@example.org")[0] == 1  # the last admin
    code, out, _ = run("remove", "boss@example.org", "--force")
    assert code == 0 and "access control is off" in out


# -- the sign-in page in a real browser at phone width ---------------------------------------


@pytest.mark.browser
def test_sign_in_page_at_phone_width(tmp_path, browser):
    from indexer.store import open_store
    from tests.browser_helpers import ServerThread

    store = open_store(tmp_path / "b.db")
    Accounts(store).add("phone.user@example.org", PASSWORD, "member")
    Accounts(store).add("admin@example.org", PASSWORD, "admin")
    try:
        with ServerThread(app_for(store)) as srv:
            ctx = browser.new_context(viewport={"width": 390, "height": 844})
            page = ctx.new_page()
            page.goto(srv.url + "/alerts")
            with page.expect_navigation():
                page.locator(".account-links a", has_text="Sign in").click()
            assert "/login" in page.url
            sw, iw = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert sw <= iw, f"the sign-in page scrolls sideways ({sw} > {iw})"
            for field in ("input[name=email]", "input[name=password]", ".auth-form button"):
                box = page.locator(field).bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= iw, field
            page.fill("input[name=email]", "phone.user@example.org")
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation():
                page.click(".auth-form button")
            assert page.url.endswith("/alerts")
            assert page.locator(".account-links").inner_text().startswith("phone.user@example.org")
            sw, iw = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert sw <= iw, f"the signed-in header scrolls sideways ({sw} > {iw})"
            with page.expect_navigation():
                page.click(".account-links button")
            assert "Sign in" in page.locator(".account-links").inner_text()
            ctx.close()
    finally:
        store.close()


def test_alert_feed_reaches_a_feed_reader_by_its_private_address(store, monkeypatch):
    """A feed reader sends no cookie and no token: once accounts exist the
    alert's feed is opened by its keyed address, which the owner's pages and
    API give, and nothing else opens it."""
    monkeypatch.setenv("COMPLAINTWATCH_PUBLIC_READ", "false")  # the strictest mode: a keyed feed still works
    acc = Accounts(store)
    acc.add("admin@example.org", PASSWORD, "admin")
    alice = acc.add("alice@example.org", PASSWORD, "member")
    bob = acc.add("bob@example.org", PASSWORD, "member")
    c = app_for(store).test_client()
    r = c.post("/api/v1/alerts", json={"name": "cards", "params": {"q": "card"}}, headers=bearer(acc.new_token(alice)))
    assert r.status_code == 201, r.data
    mine, feed = r.get_json()["id"], r.get_json()["links"]["feed"]
    assert feed.startswith(f"/alerts/{mine}/feed.atom?key=") and len(feed.split("key=")[1]) >= 32
    r = c.post("/api/v1/alerts", json={"name": "bob's", "params": {"q": "card"}}, headers=bearer(acc.new_token(bob)))
    other = r.get_json()["links"]["feed"]

    reader = app_for(store).test_client()  # another process after a restart: the same address works
    r = reader.get(feed)
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    assert ET.fromstring(r.data).find(f"{ATOM}title").text == "complaintwatch alert: cards"
    assert ET.fromstring(r.data).find(f"{ATOM}link[@rel='self']").get("href").endswith(feed)
    # the alert's page shows the same address to its owner
    assert sign_in(c, "alice@example.org").status_code == 303
    assert feed.replace("&", "&amp;") in c.get(f"/alerts/{mine}").get_data(as_text=True)
    # without the key, with a wrong key or another alert's key: nothing
    assert reader.get(f"/alerts/{mine}/feed.atom").status_code in (303, 401)
    assert reader.get(f"/alerts/{mine}/feed.atom?key=" + "0" * 32).status_code == 404
    assert reader.get(f"/alerts/{mine}/feed.atom?key=" + other.split("key=")[1]).status_code == 404
    assert reader.get(other).status_code == 200
    # the owner's account removed: the address stops working
    acc.remove("bob@example.org")
    assert reader.get(other).status_code == 404
    assert reader.get(feed).status_code == 200


def test_alert_feed_address_without_accounts_is_the_plain_one(store):
    c = app_for(store).test_client()
    r = c.post("/api/v1/alerts", json={"name": "open", "params": {"q": "card"}})
    a = r.get_json()
    assert a["links"]["feed"] == f"/alerts/{a['id']}/feed.atom"
    assert c.get(a["links"]["feed"]).status_code == 200
