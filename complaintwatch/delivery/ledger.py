"""The once-only log of deliveries, in the app state.

Each delivery has a key (``"<alert>:spike-email:<date>"``,
``"u<user>:digest-webhook:<date>"``). Before sending, a run claims the key
with ``state_create`` (atomic across processes): only one run gets it. Then it
records "sent" or "failed". A record that stays "claimed" means its run died
between claim and send (or is still sending): after STALE_AFTER it is retried.
A failed one is retried on later runs with a growing pause, at most
MAX_ATTEMPTS times. Retry n is claimed atomically too (``delivery_claim``
"<key>:<n>"), so two runs never both retry it. A "sent" record is final.

Delivery is at least once across a crash right after the message left and
before "sent" was written (no mail or HTTP protocol can do better); each
message carries its key (``X-Complaintwatch-Delivery``) for receivers to drop a
repeat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from indexer.store.appstate import AppState

from .models import DeliveryRecord

log = logging.getLogger(__name__)

KIND = "delivery"
CLAIM_KIND = "delivery_claim"
STALE_AFTER = timedelta(minutes=15)  # longer than any one send takes (SMTP and webhook timeouts, retries)
MAX_ATTEMPTS = 6
RETRY_PAUSE = timedelta(minutes=5)  # after the first failure; doubled per attempt, at most MAX_PAUSE
MAX_PAUSE = timedelta(hours=2)

Outcome = Literal["claimed", "sent", "busy", "wait", "given_up"]


@dataclass(slots=True)
class Claim:
    outcome: Outcome
    record: DeliveryRecord | None = None


class Ledger:
    def __init__(self, state: AppState, now: datetime):
        self.state = state
        self.now = now

    def get(self, key: str) -> DeliveryRecord | None:
        doc = self.state.state_get(KIND, key)
        return None if doc is None else DeliveryRecord.model_validate(doc)

    def claim(self, key: str, fresh: DeliveryRecord) -> Claim:
        """ "claimed" (the caller sends; ``record`` is what to send, a retry keeps
        the first claim's window), "sent" (done before), "busy" (another run has
        it), "wait" (failed, retried later) or "given_up"."""
        if self.state.state_create(KIND, key, fresh.model_dump(mode="json")):
            return Claim("claimed", fresh)
        rec = self.get(key)
        if rec is None:  # deleted under us: leave it to the next run
            return Claim("busy")
        if rec.status == "sent":
            return Claim("sent", rec)
        if rec.status == "claimed" and self.now - rec.claimed_at < STALE_AFTER:
            return Claim("busy", rec)
        if rec.attempts >= MAX_ATTEMPTS:
            return Claim("given_up", rec)
        if rec.status == "failed" and rec.next_try_at and self.now < rec.next_try_at:
            return Claim("wait", rec)
        attempt = rec.attempts + 1
        if not self.state.state_create(CLAIM_KIND, f"{key}:{attempt}", {"claimed_at": self.now.isoformat()}):
            return Claim("busy", rec)
        if rec.status == "claimed":
            log.warning("delivery %s: claimed at %s and never finished; retrying", key, rec.claimed_at)
        rec = rec.model_copy(update={"status": "claimed", "attempts": attempt, "claimed_at": self.now})
        self._put(key, rec)
        return Claim("claimed", rec)

    def sent(self, key: str, rec: DeliveryRecord, **update) -> DeliveryRecord:
        rec = rec.model_copy(update={"status": "sent", "sent_at": self.now, "error": None, **update})
        self._put(key, rec)
        return rec

    def failed(self, key: str, rec: DeliveryRecord, error: str) -> DeliveryRecord:
        pause = min(RETRY_PAUSE * 2 ** (rec.attempts - 1), MAX_PAUSE)
        rec = rec.model_copy(update={"status": "failed", "error": error[:500], "next_try_at": self.now + pause})
        self._put(key, rec)
        return rec

    def _put(self, key: str, rec: DeliveryRecord) -> None:
        self.state.state_put(KIND, key, rec.model_dump(mode="json"))
