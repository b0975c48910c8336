"""Private feed addresses for alerts.

Feed readers send neither a session cookie nor a bearer token, so once
accounts exist an alert's Atom feed is reached by a capability URL
(``/alerts/<id>/feed.atom?key=...``): an HMAC of (alert id, owner id) under a
secret kept in the store's app state — created once, the same for every
worker and after a restart. The key stops working when the alert is deleted,
changes owner or its owner's account is removed. While no account exists the
plain address works, as it always did."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import g, url_for

from complaintwatch.models import SavedSearch

from .auth import accounts, accounts_on
from .params import MAX_SQL_INT
from .services import store

KIND, KEY = "secret", "alert-feed"
UNOWNED = 0  # alerts made before accounts existed: admins only, keyed as owner 0


def _secret() -> bytes:
    if "_cw_feed_secret" not in g:  # once per request: the alerts list builds an address per alert
        g._cw_feed_secret = _read_secret()
    return g._cw_feed_secret


def _read_secret() -> bytes:
    st = store()
    doc = st.state_get(KIND, KEY)
    if doc is None:
        st.state_create(KIND, KEY, {"hex": secrets.token_hex(32)})  # once: a racing worker's wins
        doc = st.state_get(KIND, KEY)
    assert doc is not None
    return bytes.fromhex(doc["hex"])


def _owner(alert_id: int) -> int | None:
    """The owner's id while that account exists; UNOWNED for an alert nobody owns."""
    if "_cw_alert_owners" not in g:  # once per request, as the secret
        g._cw_alert_owners = accounts().owners_by_alert()
    owner = g._cw_alert_owners.get(alert_id)
    if owner is None:
        return UNOWNED
    return owner if accounts().get(str(owner)) is not None else None


def feed_key(alert_id: int, owner_id: int) -> str:
    msg = f"{alert_id}:{owner_id}".encode()
    return hmac.new(_secret(), msg, hashlib.sha256).hexdigest()[:32]


def feed_url(alert: SavedSearch, external: bool = False) -> str:
    """The alert's feed address; with its key once accounts exist."""
    assert alert.id is not None
    owner = _owner(alert.id) if accounts_on() else None
    key = feed_key(alert.id, owner) if owner is not None else None
    return url_for("alerts.feed", alert_id=alert.id, key=key, _external=external)


def alert_for_key(alert_id: int, key: str) -> SavedSearch | None:
    """The alert a feed key opens; None for a wrong, stale or foreign key."""
    if alert_id > MAX_SQL_INT or not accounts_on():
        return None
    owner = _owner(alert_id)
    if owner is None or not hmac.compare_digest(key.encode(), feed_key(alert_id, owner).encode()):
        return None
    return store().get_saved_search(alert_id)
