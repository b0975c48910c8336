"""One delivery run: every user's alerts evaluated, spikes sent at once, the
daily digest once a day from ``digest_hour`` (UTC) on. The scheduler calls
``deliver_due`` every few minutes; ``complaintwatch deliver`` runs it once.

What goes out once (ledger.py has the once-only rules):
- a spike: per alert, channel and spike episode. An episode starts on the day
  the alert is first seen spiking (``spike_state``) and ends when it no longer
  does; users in "digest" mode get spikes flagged in the digest instead;
- the digest: per user, channel and UTC day. It lists each alert's posts
  published since the previous digest (LATE earlier, for posts crawled after
  their date; posts already listed are not repeated), up to the run's time.
  A day with nothing new sends nothing.

Alerts without an owner (made before accounts existed) are delivered to no one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from complaintwatch.accounts import Accounts, User
from complaintwatch.config import Settings
from complaintwatch.models import Post, SavedSearch
from indexer.store.appstate import StateRepo

from . import mail, webhook
from .compose import Content, digest_subject, payload, render_mail, section, spike_subject
from .ledger import Ledger
from .models import DeliveryRecord, DeliveryReport, DeliverySettings, DigestCursor, SpikeState
from .settings import delivery_settings

if TYPE_CHECKING:
    from indexer.store.appstate import AppState
    from indexer.store.base import Store

log = logging.getLogger(__name__)

LATE = timedelta(days=2)  # a digest looks this far behind the previous one's end (late-crawled posts)
FIRST_WINDOW = timedelta(days=1)  # the first digest: the last day
DIGEST_POSTS = 10  # listed per alert; the rest as "N more" with a link to the search
DIGEST_MAX = 500  # new posts taken per alert and digest
SPIKE_POSTS = 10

_embedders: dict[str, object] = {}


def _uses_vectors(a: SavedSearch) -> bool:
    return a.kind == "search" and bool(a.params.get("q")) and a.params.get("similar") != 0


def _embedder(settings: Settings, alerts: list[SavedSearch]):
    """The query embedder when some search alert counts similar posts (loaded once per process)."""
    spec = settings.delivery_embedder
    if not spec or not any(_uses_vectors(a) for a in alerts):
        return None
    if spec not in _embedders:
        from indexer.embedders import get_embedder

        _embedders[spec] = get_embedder(spec)
    return _embedders[spec]


def _app(store: Store, settings: Settings, embedder):
    """The web app, for its alert evaluation and its links (no request is made)."""
    from web import create_app

    url = urlsplit(settings.public_url)
    return create_app(
        store,
        embedder,
        {
            "SERVER_NAME": url.netloc or "127.0.0.1:8000",
            "PREFERRED_URL_SCHEME": url.scheme or "http",
            "APPLICATION_ROOT": url.path or "/",
            "SECRET_KEY": settings.secret_key or "delivery",  # no session is ever signed here
        },
    )


@dataclass(slots=True)
class _Run:
    store: Store
    settings: Settings
    now: datetime
    ledger: Ledger
    report: DeliveryReport

    def send(self, user: User, prefs: DeliverySettings, channel: str, content: Content) -> None:
        if channel == "email":
            text, html = render_mail(content)
            msg = mail.build_message(self.settings, user.email, content.subject, text, html, content.key, self.now)
            mail.send(self.settings, msg)
            self.report.sent_email += 1
        else:
            body = payload(content, self.now)
            webhook.post(self.settings, prefs.webhook_url or "", prefs.webhook_secret or "", body, content.key)
            self.report.sent_webhook += 1

    def attempt(
        self,
        key: str,
        fresh: DeliveryRecord,
        build: Callable[[DeliveryRecord], tuple[Content, dict[str, list[int]]] | None],
        user: User,
        prefs: DeliverySettings,
    ) -> DeliveryRecord | None:
        """Claim the key, build and send; the record as finished (None when not ours to send)."""
        claim = self.ledger.claim(key, fresh)
        if claim.outcome == "sent":
            self.report.skipped_already_sent += 1
            return None
        if claim.outcome != "claimed":
            log.info("delivery %s: %s", key, claim.outcome)
            return None
        rec = claim.record
        assert rec is not None  # Ledger.claim: a "claimed" Claim carries its record
        try:
            built = build(rec)
            if built is None:
                return self.ledger.sent(key, rec, empty=True)
            content, posts = built
            self.send(user, prefs, fresh.channel, content)
        except Exception as exc:  # any failure is recorded, and retried on a later run
            log.warning("delivery %s failed (attempt %d): %s", key, rec.attempts, exc)
            self.ledger.failed(key, rec, f"{type(exc).__name__}: {exc}")
            self.report.failed += 1
            return None
        return self.ledger.sent(key, rec, posts=posts)


def _channels(settings: Settings, prefs: DeliverySettings, user: User) -> list[str]:
    out = []
    if prefs.email:
        if settings.smtp_host:
            out.append("email")
        else:
            log.warning("no smtp_host set: no e-mail to %s", user.email)
    if prefs.webhook_url and prefs.webhook_secret:
        out.append("webhook")
    return out


def _spike_since(store: AppState, alert: SavedSearch, spiking: bool, now: datetime) -> str | None:
    """The day the alert's current spike was first seen; None when it does not spike."""
    repo = StateRepo(store, "spike_state", SpikeState)
    if not spiking:
        repo.delete(str(alert.id))
        return None
    state = repo.get(str(alert.id))
    if state is None:
        repo.create(str(alert.id), SpikeState(since=now.date().isoformat()))  # a racing run: one wins
        state = repo.get(str(alert.id))
    return state.since if state else now.date().isoformat()


def _digest_key(user: User, channel: str, day: str) -> str:
    return f"u{user.id}:digest-{channel}:{day}"


def _cursor(run: _Run, user: User, channel: str) -> DigestCursor | None:
    """What the previous digest covered; yesterday's sent record counts too when
    the run that sent it died before moving the cursor."""
    cursor = StateRepo(run.store, "digest_cursor", DigestCursor).get(f"{user.id}:{channel}")
    yesterday = (run.now - timedelta(days=1)).date().isoformat()
    rec = run.ledger.get(_digest_key(user, channel, yesterday))
    if rec and rec.status == "sent" and rec.until and (cursor is None or rec.until > cursor.until):
        return _advance(cursor, rec, {})
    return cursor


def _advance(cursor: DigestCursor | None, rec: DeliveryRecord, dates: dict[str, dict[str, str]]) -> DigestCursor:
    """The cursor after a digest: its end, and the posts it listed that the next
    window still reaches (so none is listed twice)."""
    assert rec.until is not None  # a digest's record has its window
    keep_from = (rec.until - LATE).isoformat()
    posts: dict[str, dict[str, str]] = {}
    for src in (cursor.posts if cursor else {}, dates):
        for alert_id, ids in src.items():
            kept = {pid: when for pid, when in ids.items() if when >= keep_from}
            if kept:
                posts.setdefault(alert_id, {}).update(kept)
    return DigestCursor(until=rec.until, posts=posts)


def _deliver_user(run: _Run, user: User, alerts: list[SavedSearch], prefs: DeliverySettings, channels, incs) -> None:
    from web.alerts import evaluate, items_since
    from web.trends import SPIKE_WINDOW

    states = {a.id: evaluate(a, run.now, incs) for a in alerts}

    for a in alerts:
        since = _spike_since(run.store, a, states[a.id].spike.spike, run.now)
        if since is None or prefs.mode != "immediate":
            continue
        for channel in channels:
            key = f"{a.id}:spike-{channel}:{since}"

            def build_spike(rec, a=a, key=key):
                st = states[a.id]
                posts = [it.post for it in items_since(a, run.now - SPIKE_WINDOW, SPIKE_POSTS)]
                s = section(st, posts, more=max(0, st.spike.recent - len(posts)))
                return Content("spike", key, spike_subject(s), [s]), {str(a.id): [p.id for p in posts]}

            fresh = DeliveryRecord(status="claimed", user_id=user.id, channel=channel, kind="spike", claimed_at=run.now)
            run.attempt(key, fresh, build_spike, user, prefs)

    if run.now.hour < run.settings.digest_hour:
        return
    day = run.now.date().isoformat()
    for channel in channels:
        key = _digest_key(user, channel, day)
        cursor = _cursor(run, user, channel)
        dates: dict[str, dict[str, str]] = {}

        def build_digest(
            rec: DeliveryRecord, cursor=cursor, key=key, dates=dates
        ) -> tuple[Content, dict[str, list[int]]] | None:
            assert rec.since is not None and rec.until is not None  # a digest's record has its window
            sections = []
            for a in alerts:
                listed = cursor.posts.get(str(a.id), {}) if cursor else {}
                start = max(rec.since, a.created_at)
                found = items_since(a, start, DIGEST_MAX + len(listed))
                new: list[Post] = [
                    it.post
                    for it in found
                    if str(it.post.id) not in listed and it.post.published_at and it.post.published_at < rec.until
                ][:DIGEST_MAX]
                st = states[a.id]
                if not new and not (prefs.mode == "digest" and st.spike.spike):
                    continue
                dates[str(a.id)] = {str(p.id): p.published_at.isoformat() for p in new if p.published_at}
                sections.append(section(st, new[:DIGEST_POSTS], more=max(0, len(new) - DIGEST_POSTS)))
            if not sections:
                return None
            content = Content("digest", key, digest_subject(sections, day), sections, rec.since, rec.until)
            return content, {k: [int(i) for i in v] for k, v in dates.items()}

        window_start = (cursor.until - LATE) if cursor else run.now - FIRST_WINDOW
        fresh = DeliveryRecord(
            status="claimed",
            user_id=user.id,
            channel=channel,
            kind="digest",
            claimed_at=run.now,
            since=window_start,
            until=run.now,
        )
        rec = run.attempt(key, fresh, build_digest, user, prefs)
        if rec is not None:
            StateRepo(run.store, "digest_cursor", DigestCursor).put(
                f"{user.id}:{channel}", _advance(cursor, rec, dates)
            )


def deliver_due(store: Store, settings: Settings, now: datetime | None = None) -> DeliveryReport:
    """Send what is due now: spikes at once, the daily digest from ``settings.digest_hour``
    (UTC) on. Safe to run as often as wanted, from several processes at once."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    report = DeliveryReport()
    accounts = Accounts(store)
    owners = accounts.owners_by_alert()
    every = store.saved_searches()
    plans = []
    for user in accounts.list():
        mine = [a for a in every if a.id is not None and owners.get(a.id) == user.id]
        if not mine:
            continue
        prefs = delivery_settings(store, user.id)
        channels = _channels(settings, prefs, user)
        if channels:
            plans.append((user, mine, prefs, channels))
    if not plans:
        return report
    app = _app(store, settings, _embedder(settings, [a for _, mine, _, _ in plans for a in mine]))
    run = _Run(store, settings, now, Ledger(store, now), report)
    with app.app_context():
        from web.reports import incidents_by_id

        incs = incidents_by_id()
        for user, mine, prefs, channels in plans:
            try:
                _deliver_user(run, user, mine, prefs, channels, incs)
            except Exception:  # one user's failure (a store error while evaluating) stops no one else
                log.exception("delivery for %s failed", user.email)
                report.failed += 1
    log.info("delivery: %s", report)
    return report
