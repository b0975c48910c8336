"""Typed records of alert delivery, kept in the store's app state.

delivery_settings  str(user id)   -> DeliverySettings
delivery           delivery key   -> DeliveryRecord (the once-only log)
delivery_claim     "<key>:<n>"    -> {}: who took retry n of a key (atomic)
spike_state        str(alert id)  -> SpikeState: since when an alert spikes
digest_cursor      "<user>:<channel>" -> DigestCursor: what the last digest covered
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

Mode = Literal["immediate", "digest"]
Channel = Literal["email", "webhook"]
Status = Literal["claimed", "sent", "failed"]


class DeliverySettings(BaseModel):
    """Per user. mode "immediate": spikes at once and a daily digest; "digest": the digest only."""

    mode: Mode = "immediate"
    email: bool = True  # to the account's address
    webhook_url: str | None = None
    webhook_secret: str | None = None

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        v = (v or "").strip() or None
        if v is None:
            return None
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(v) > 2000:
            raise ValueError("the webhook URL must be an http:// or https:// URL")
        return v

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, v: str | None) -> str | None:
        v = (v or "").strip() or None
        if v is not None and not 16 <= len(v) <= 256:
            raise ValueError("the webhook secret needs 16 to 256 characters")
        return v


class DeliveryRecord(BaseModel):
    status: Status
    attempts: int = 1
    user_id: int
    channel: Channel
    kind: Literal["spike", "digest"]
    claimed_at: datetime
    sent_at: datetime | None = None
    next_try_at: datetime | None = None
    error: str | None = None
    # the digest's window, fixed at the first claim so that a retry sends the same posts
    since: datetime | None = None
    until: datetime | None = None
    posts: dict[str, list[int]] = Field(default_factory=dict)  # alert id -> post ids sent
    empty: bool = False  # nothing new: marked done, nothing sent


class SpikeState(BaseModel):
    since: str  # the UTC date the spike was first seen: part of its delivery key


class DigestCursor(BaseModel):
    until: datetime  # the end of the last digest sent
    # alert id -> {post id: published at} of the posts listed that the next window still reaches (no repeats)
    posts: dict[str, dict[str, str]] = Field(default_factory=dict)


@dataclass(slots=True)
class DeliveryReport:
    sent_email: int = 0
    sent_webhook: int = 0
    failed: int = 0
    skipped_already_sent: int = 0
