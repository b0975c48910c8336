"""Webhooks: a JSON POST signed with HMAC-SHA256.

Headers:
    X-Complaintwatch-Timestamp: <unix seconds>
    X-Complaintwatch-Signature: sha256=<hex HMAC of "<timestamp>." + the raw body, keyed by the secret>
    X-Complaintwatch-Delivery:  <the delivery key, the same on every retry>

A receiver recomputes the HMAC over the raw body with the timestamp in front
(signing the timestamp too is what stops a replay: an old body cannot be sent
again under a new time), compares in constant time and refuses timestamps
older than a few minutes. ``verify`` below does that.

Connection errors and 500/502/503/504 answers are retried with exponential
backoff (urllib3's Retry), a bounded number of times; anything but a 2xx in the
end is a failure (redirects are not followed).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from complaintwatch.config import Settings

SIGNATURE = "X-Complaintwatch-Signature"
TIMESTAMP = "X-Complaintwatch-Timestamp"
DELIVERY = "X-Complaintwatch-Delivery"
RETRY_STATUS = (500, 502, 503, 504)
MAX_AGE = 300  # seconds a receiver should accept a timestamp for


class WebhookError(Exception):
    pass


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, headers, body: bytes, now: float | None = None, max_age: int = MAX_AGE) -> bool:
    """The receiver's check (for receivers written in Python, and the tests)."""
    ts = headers.get(TIMESTAMP, "")
    if not ts.isdigit() or abs((now if now is not None else time.time()) - int(ts)) > max_age:
        return False
    return hmac.compare_digest(sign(secret, ts, body), headers.get(SIGNATURE, ""))


def _session(settings: Settings) -> requests.Session:
    retry = Retry(
        total=settings.webhook_retries,
        backoff_factor=settings.webhook_backoff,
        backoff_max=60,
        status_forcelist=RETRY_STATUS,
        allowed_methods=frozenset({"POST"}),
        raise_on_status=False,  # the last answer comes back: its status is the error message
        respect_retry_after_header=False,  # a receiver must not make us sleep for hours
    )
    s = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


def check_destination(url: str) -> None:
    """Refuse a URL whose host resolves to a loopback, private, link-local or
    reserved address: a user's webhook must not reach services inside the
    network (the search server, a cloud metadata endpoint). A light check: the
    name is resolved again when connecting."""
    host, port = urlsplit(url).hostname or "", urlsplit(url).port
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise WebhookError(f"cannot resolve {host!r}: {exc}") from exc
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])  # the host: str for IP families
        if not ip.is_global:
            raise WebhookError(f"{host} is a non-public address ({ip}): set webhook_private_ok to allow it")


def post(settings: Settings, url: str, secret: str, payload: dict, key: str) -> int:
    """POST the payload; the final status code (2xx), else WebhookError."""
    if not settings.webhook_private_ok:
        check_destination(url)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "complaintwatch-webhook",
        TIMESTAMP: ts,
        SIGNATURE: sign(secret, ts, body),
        DELIVERY: key,
    }
    try:
        with _session(settings) as s:
            r = s.post(url, data=body, headers=headers, timeout=settings.webhook_timeout, allow_redirects=False)
    except requests.RequestException as exc:
        raise WebhookError(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= r.status_code < 300:
        raise WebhookError(f"the webhook answered {r.status_code}")
    return r.status_code
