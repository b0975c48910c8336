"""Alert delivery (issue 15): e-mail through a real SMTP server (aiosmtpd on
127.0.0.1, plain and STARTTLS with a throwaway CA from trustme), signed
webhooks to a real HTTP receiver that fails before it accepts, spikes at once
and a daily digest from the digest hour on, each item once: across runs, from
a fresh store object, and after a process killed between claim and send.

The alerts run over real CFPB complaints (../shared/data) dated relative to
tests.clock.NOW (09:30 UTC; the digest hour is 7)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import time_machine

from complaintwatch.accounts import Accounts
from complaintwatch.config import load_settings
from complaintwatch.delivery import DeliveryReport, DeliverySettings, deliver_due
from complaintwatch.delivery.ledger import STALE_AFTER, Ledger
from complaintwatch.delivery.settings import save_delivery_settings
from complaintwatch.delivery.webhook import DELIVERY, SIGNATURE, TIMESTAMP, verify
from complaintwatch.models import Post, SavedSearch
from tests.clock import NOW
from tests.corpora import load_cfpb

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"
SECRET = "webhook-secret-0123456789"
COMPANY = "equifax-inc"
PUBLIC = "http://cw.example"
POST_LINK = re.compile(r"http://cw\.example/post/(\d+)")
XSS_TITLE = "Fees <script>alert(1)</script> & more"


# -- real local servers ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: every message received, parsed; whether it came over TLS."""

    def __init__(self):
        self.messages = []
        self.tls: list[bool] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.tls.append(session.ssl is not None)
        return "250 Message accepted"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=free_port())
    ctl.start()
    inbox.port = ctl.port
    yield inbox
    ctl.stop()


class Receiver(ThreadingHTTPServer):
    """A webhook receiver: answers 503 to the first ``fail_first`` requests, then 200."""

    def __init__(self, fail_first: int):
        self.fail_first = fail_first
        self.requests: list[tuple[dict, bytes]] = []
        super().__init__(("127.0.0.1", 0), _Hook)
        self.url = f"http://127.0.0.1:{self.server_port}/hook"

    def accepted(self) -> list[dict]:
        """The bodies answered with 200, parsed."""
        return [json.loads(b) for i, (_, b) in enumerate(self.requests) if i >= self.fail_first]


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        srv = self.server
        srv.requests.append((dict(self.headers), body))
        ok = len(srv.requests) > srv.fail_first
        self.send_response(200 if ok else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    srv = Receiver(fail_first=2)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def settings_for(smtp_port: int, **kw):
    base = dict(
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_tls="none",
        mail_from="alerts@cw.example",
        public_url=PUBLIC,
        delivery_embedder=None,  # text matches only: the search alerts here say similar=0 anyway
        webhook_backoff=0.05,
        webhook_private_ok=True,  # the receivers here are on 127.0.0.1
        digest_hour=7,
    )
    return load_settings(**{**base, **kw})


# -- real complaints dated around NOW ---------------------------------------------------------


def corpus() -> tuple[list[Post], dict[str, list[Post]]]:
    """CFPB complaints redated: the company's spike (8 in the last day, 6 more in the
    last 30 days, 6 in the 180 days before) and other companies' posts, two of them
    about identity theft in the last day."""
    posts = load_cfpb(limit=600)
    theft = [p for p in posts if p.companies != [COMPANY] and "identity theft" in p.text.lower()]
    # the rest never mention either word: the identity theft alert finds exactly its two
    rest = [p for p in posts if not re.search(r"identit|theft", f"{p.title} {p.text}", re.I)]
    ours = [p for p in rest if p.companies == [COMPANY]]
    others = [p for p in rest if p.companies != [COMPANY]]
    assert len(ours) >= 20 and len(theft) >= 2, "the CFPB sample changed"

    def at(p: Post, ago: timedelta) -> Post:
        return p.with_(published_at=NOW - ago)

    groups = {
        "new": [at(p, timedelta(hours=2 + 2 * i)) for i, p in enumerate(ours[:8])],
        "month": [at(p, timedelta(days=3 + 4 * i)) for i, p in enumerate(ours[8:14])],
        "baseline": [at(p, timedelta(days=45 + 25 * i)) for i, p in enumerate(ours[14:20])],
        "theft": [at(p, timedelta(hours=5 + i)) for i, p in enumerate(theft[:2])],
        "old": [at(p, timedelta(days=40 + 9 * i)) for i, p in enumerate(others[:20])],
    }
    groups["new"][0] = groups["new"][0].with_(title=XSS_TITLE)
    return [p for g in groups.values() for p in g], groups


def ids(posts) -> set[int]:
    return {p.id for p in posts}


@pytest.fixture
def world(store):
    """The store with the posts, three users and their alerts."""
    posts, groups = corpus()
    store.upsert_posts(posts)
    acc = Accounts(store)
    admin = acc.add("admin@example.org", PASSWORD, "admin")
    alice = acc.add("alice@example.org", PASSWORD, "member")
    bob = acc.add("bob@example.org", PASSWORD, "member")
    made = NOW - timedelta(days=10)

    def alert(name, params, owner=None):
        a = store.add_saved_search(SavedSearch(name=name, kind="search", params=params, created_at=made))
        if owner:
            acc.set_owner(a.id, owner)
        return a

    alerts = {
        "alice_company": alert("Equifax", {"company": COMPANY}, alice),
        "alice_theft": alert("Identity theft", {"q": "identity theft", "similar": 0}, alice),
        "bob_company": alert("Equifax for Bob", {"company": COMPANY}, bob),
        "unowned": alert("Before accounts", {"company": COMPANY}),
    }
    return {"store": store, "groups": groups, "alerts": alerts, "users": (admin, alice, bob)}


def by_subject(inbox: Inbox) -> dict[tuple[str, str], object]:
    return {(m["To"], "spike" if "spike in" in m["Subject"] else "digest"): m for m in inbox.messages}


def linked_posts(text: str) -> set[int]:
    return {int(x) for x in POST_LINK.findall(text)}


# -- the main flow: both backends --------------------------------------------------------------


def test_spikes_and_digests_go_out_once(world, smtp, receiver, tmp_path):
    store, groups, alerts = world["store"], world["groups"], world["alerts"]
    _, alice, bob = world["users"]
    save_delivery_settings(
        store, bob.id, DeliverySettings(mode="digest", webhook_url=receiver.url, webhook_secret=SECRET)
    )
    settings = settings_for(smtp.port)

    report = deliver_due(store, settings, NOW)
    assert report == DeliveryReport(sent_email=3, sent_webhook=1, failed=0, skipped_already_sent=0)
    mails = by_subject(smtp)
    assert set(mails) == {
        ("alice@example.org", "spike"),
        ("alice@example.org", "digest"),
        ("bob@example.org", "digest"),
    }  # bob reads digests only; the unowned alert goes to no one

    # alice's spike: plain text and HTML, links to the posts, the figures
    spike = mails[("alice@example.org", "spike")]
    assert spike["Subject"].startswith("complaintwatch: spike in “Equifax” (14 posts in 30 days")
    assert spike["From"] == "alerts@cw.example" and spike["X-Complaintwatch-Delivery"].endswith(
        f"{alerts['alice_company'].id}:spike-email:{NOW.date()}"
    )
    assert spike.is_multipart() and spike.get_content_type() == "multipart/alternative"
    text = spike.get_body(("plain",)).get_content()
    html = spike.get_body(("html",)).get_content()
    assert "Last 30 days: 14 posts" in text and "14</strong> posts" in html
    assert linked_posts(text) == linked_posts(html) == ids(groups["new"] + groups["month"][:2])  # newest 10
    assert f"{PUBLIC}/alerts/{alerts['alice_company'].id}" in text

    # alice's digest: each alert's posts of the last day, the HTML escaped
    digest = mails[("alice@example.org", "digest")]
    assert digest["Subject"] == f"complaintwatch daily digest, {NOW.date()}: 10 new posts in 2 alerts"
    text = digest.get_body(("plain",)).get_content()
    html = digest.get_body(("html",)).get_content()
    assert linked_posts(text) == ids(groups["new"] + groups["theft"])
    assert (
        XSS_TITLE in text and "<script>" not in html and "Fees &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    )
    # bob's digest flags the spike (no spike mail in digest mode)
    bob_text = mails[("bob@example.org", "digest")].get_body(("plain",)).get_content()
    assert "Equifax for Bob [SPIKE]" in bob_text and linked_posts(bob_text) == ids(groups["new"])

    # the webhook: retried through two 503s, signed, the same delivery id on every try
    assert len(receiver.requests) == 3
    keys = {h[DELIVERY] for h, _ in receiver.requests}
    assert keys == {f"u{bob.id}:digest-webhook:{NOW.date()}"}
    for headers, body in receiver.requests:
        # the receiver's clock: the run's clock ticks on from NOW, so a slow CI run is minutes past it
        sent_at = time.time()
        assert verify(SECRET, headers, body, now=sent_at)
        expected = hmac.new(SECRET.encode(), headers[TIMESTAMP].encode() + b"." + body, hashlib.sha256).hexdigest()
        assert headers[SIGNATURE] == "sha256=" + expected
        assert not verify(SECRET, headers, body + b" ", now=sent_at)  # another body
        assert not verify(SECRET, headers, body, now=sent_at + 3600)  # replayed an hour later
    (hook,) = receiver.accepted()
    assert hook["event"] == "digest" and [a["id"] for a in hook["alerts"]] == [alerts["bob_company"].id]
    sent = hook["alerts"][0]
    assert sent["spike"]["spike"] is True and sent["new_posts"] == 8
    assert {p["id"] for p in sent["posts"]} == ids(groups["new"])
    assert all(p["link"] == f"{PUBLIC}/post/{p['id']}" for p in sent["posts"])

    # again, and from a fresh store object: nothing twice
    again = deliver_due(store, settings, NOW + timedelta(minutes=5))
    assert again == DeliveryReport(sent_email=0, sent_webhook=0, failed=0, skipped_already_sent=4)
    fresh = reopen(store, tmp_path)
    try:
        assert deliver_due(fresh, settings, NOW + timedelta(minutes=10)).skipped_already_sent == 4
    finally:
        if fresh is not store:
            fresh.close()
    assert len(smtp.messages) == 3 and len(receiver.requests) == 3
    records = dict(store.state_list("delivery"))
    assert len(records) == 4 and {r["status"] for r in records.values()} == {"sent"}


def reopen(store, tmp_path):
    """Another store object on the same data (a restarted process would open)."""
    from indexer.store import open_store
    from indexer.store.es import ElasticsearchStore

    if isinstance(store, ElasticsearchStore):
        return ElasticsearchStore(store.url)
    return open_store(store.path)


# -- the digest hour and the next day (clock moved by time-machine) -----------------------------


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_digest_waits_for_its_hour_and_lists_each_post_once(world, smtp):
    store, groups = world["store"], world["groups"]
    settings = settings_for(smtp.port)
    early = NOW.replace(hour=6, minute=0)
    with time_machine.travel(early, tick=False):
        assert deliver_due(store, settings) == DeliveryReport(2, 0, 0, 0)  # 06:00: alice's and bob's spikes, no digest
    assert all("spike in" in m["Subject"] for m in smtp.messages)
    with time_machine.travel(NOW, tick=False):
        assert deliver_due(store, settings) == DeliveryReport(2, 0, 0, 2)  # the digests; the spikes were sent
    assert deliver_due(store, settings, NOW + timedelta(hours=5)) == DeliveryReport(0, 0, 0, 4)

    # the next day: one new complaint; the spike goes on (no new spike mail)
    newer = groups["old"][0].with_(
        url="https://www.consumerfinance.gov/complaint/next-day",
        companies=[COMPANY],
        published_at=NOW + timedelta(hours=20),
    )
    store.upsert_posts([newer])
    next_day = NOW + timedelta(days=1)
    with time_machine.travel(next_day.replace(hour=6, minute=59), tick=False):
        assert deliver_due(store, settings) == DeliveryReport(0, 0, 0, 2)
    with time_machine.travel(next_day.replace(hour=7, minute=0), tick=False):
        assert deliver_due(store, settings) == DeliveryReport(2, 0, 0, 2)
    for digest in smtp.messages[-2:]:
        assert digest["Subject"].endswith(f"{next_day.date()}: 1 new posts in 1 alerts")
        # yesterday's posts are not listed again, though the window reaches back to them
        assert linked_posts(digest.get_body(("plain",)).get_content()) == {newer.id}
    # a day without anything new sends nothing
    with time_machine.travel(next_day + timedelta(days=1, hours=1), tick=False):
        assert deliver_due(store, settings) == DeliveryReport(0, 0, 0, 2)
    assert len(smtp.messages) == 6


# -- TLS, and a failure that is retried on a later run -----------------------------------------


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_starttls_with_login_and_a_failed_send_is_retried_later(world, tmp_path):
    import trustme
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.login == b"cw" and auth_data.password == b"mail-pass")

    inbox = Inbox()
    ctl = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_ctx,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    ctl.start()
    try:
        store = world["store"]
        tls = dict(smtp_tls="starttls", smtp_user="cw", smtp_password="mail-pass")
        # the system's CAs do not know the test CA: both mails fail, and are recorded so
        report = deliver_due(store, settings_for(ctl.port, **tls), NOW)
        assert report == DeliveryReport(0, 0, 4, 0) and inbox.messages == []  # 2 spikes, 2 digests
        failed = {k: r for k, r in store.state_list("delivery")}
        assert {r["status"] for r in failed.values()} == {"failed"} and all(
            "CERTIFICATE_VERIFY_FAILED" in r["error"] for r in failed.values()
        )
        good = settings_for(ctl.port, smtp_ca_certs=str(ca_file), **tls)
        assert deliver_due(store, good, NOW + timedelta(minutes=1)) == DeliveryReport()  # pausing before a retry
        assert deliver_due(store, good, NOW + timedelta(minutes=6)) == DeliveryReport(4, 0, 0, 0)
        assert len(inbox.messages) == 4 and inbox.tls == [True] * 4 and logins[-1] == (b"cw", b"mail-pass")
        assert {r["attempts"] for _, r in store.state_list("delivery")} == {2}
        assert deliver_due(store, good, NOW + timedelta(minutes=30)).skipped_already_sent == 4
    finally:
        ctl.stop()


# -- a process killed between claim and send ---------------------------------------------------


class BlackHole:
    """An SMTP port that accepts connections and never answers: a send hangs there."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.connected = threading.Event()
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.connected.set()

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


CHILD = """
import sys
from datetime import datetime
from complaintwatch.config import load_settings
from complaintwatch.delivery import deliver_due
from indexer.store import open_store
settings = load_settings(smtp_host="127.0.0.1", smtp_port=int(sys.argv[2]), smtp_tls="none", smtp_timeout=600,
                         public_url="http://cw.example", delivery_embedder=None)
deliver_due(open_store(sys.argv[1]), settings, datetime.fromisoformat(sys.argv[3]))
"""


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_delivery_killed_between_claim_and_send_is_sent_later_once(world, smtp):
    store = world["store"]
    hole = BlackHole()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(store.path), str(hole.port), NOW.isoformat()], cwd=REPO)
    try:
        assert hole.connected.wait(60), "the child never reached the mail server"
        time.sleep(0.5)
        child.kill()  # SIGKILL: no cleanup, the claim stays
        child.wait(10)
    finally:
        hole.close()
    (key, record), *_ = store.state_list("delivery")
    assert record["status"] == "claimed" and record["attempts"] == 1

    settings = settings_for(smtp.port)
    # still within STALE_AFTER: maybe another run is still sending it, so not now, and not lost
    assert deliver_due(store, settings, NOW + timedelta(minutes=1)) == DeliveryReport(3, 0, 0, 0)  # the others
    assert Ledger(store, NOW).get(key).status == "claimed"
    later = NOW + STALE_AFTER + timedelta(minutes=1)
    assert deliver_due(store, settings, later) == DeliveryReport(1, 0, 0, 3)
    assert Ledger(store, later).get(key).attempts == 2
    assert deliver_due(store, settings, later + timedelta(minutes=1)) == DeliveryReport(0, 0, 0, 4)
    assert Counter(m["X-Complaintwatch-Delivery"] for m in smtp.messages) == Counter(
        {k: 1 for k, _ in store.state_list("delivery")}
    )  # each item exactly once


# -- webhooks that keep failing, and the CLI -----------------------------------------------------


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_webhook_retries_are_bounded_and_failure_is_recorded(world, smtp):
    store, (_, alice, _) = world["store"], world["users"]
    down = Receiver(fail_first=10**6)
    threading.Thread(target=down.serve_forever, daemon=True).start()
    try:
        save_delivery_settings(
            store, alice.id, DeliverySettings(email=False, webhook_url=down.url, webhook_secret=SECRET)
        )
        settings = settings_for(smtp.port, webhook_retries=2)
        report = deliver_due(store, settings, NOW)
        assert report.sent_webhook == 0 and report.failed == 2  # the spike and the digest
        assert len(down.requests) == 2 * 3  # each: the first try and 2 retries
        errors = {r["error"] for _, r in store.state_list("delivery") if r["channel"] == "webhook"}
        assert errors == {"WebhookError: the webhook answered 503"}
    finally:
        down.shutdown()
        down.server_close()
    # a receiver that is not there at all
    save_delivery_settings(
        store,
        alice.id,
        DeliverySettings(email=False, webhook_url=f"http://127.0.0.1:{free_port()}/", webhook_secret=SECRET),
    )
    report = deliver_due(store, settings_for(smtp.port, webhook_retries=1), NOW + timedelta(hours=1))
    assert report.failed == 2 and report.sent_webhook == 0
    # by default a webhook may not reach this machine or the local network
    later = NOW + timedelta(hours=3)
    assert deliver_due(store, settings_for(smtp.port, webhook_private_ok=False), later).failed == 2
    errors = {r["error"] for _, r in store.state_list("delivery") if r["channel"] == "webhook"}
    assert errors == {"WebhookError: 127.0.0.1 is a non-public address (127.0.0.1): set webhook_private_ok to allow it"}


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_deliver_command(world, smtp, monkeypatch, capsys):
    from complaintwatch.cli import main

    store = world["store"]
    for k, v in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_TLS": "none"}.items():
        monkeypatch.setenv(f"COMPLAINTWATCH_{k}", v)
    monkeypatch.setenv("COMPLAINTWATCH_DELIVERY_EMBEDDER", "")
    assert main(["--store", f"sqlite:///{store.path}", "deliver"]) == 0
    assert "sent 4 e-mails and 0 webhooks; 0 failed" in capsys.readouterr().out
    assert main(["--store", f"sqlite:///{store.path}", "deliver"]) == 0
    assert "4 already sent before" in capsys.readouterr().out
    assert {m["To"] for m in smtp.messages} == {"alice@example.org", "bob@example.org"}


def test_no_accounts_no_delivery(store, smtp):
    store.add_saved_search(SavedSearch(name="x", kind="search", params={"company": COMPANY}, created_at=NOW))
    assert deliver_due(store, settings_for(smtp.port), NOW) == DeliveryReport()
    assert smtp.messages == [] and store.state_list("delivery") == []


def test_settings_are_validated():
    with pytest.raises(ValueError, match="http"):
        DeliverySettings(webhook_url="file:///etc/passwd", webhook_secret=SECRET)
    with pytest.raises(ValueError, match="16 to 256"):
        DeliverySettings(webhook_url="https://x.example/", webhook_secret="short")
    with pytest.raises(ValueError):
        load_settings(digest_hour=24)
    assert DeliverySettings().mode == "immediate" and DeliverySettings().email
