"""What a spider yields: raw, as read off the page. Pipelines turn it into a Post."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class PostItem:
    url: str
    site_kind: str  # "blog" | "forum" | "review" | "social"
    title: str = ""
    text: str = ""
    author: str | None = None
    # Either an aware datetime the spider parsed itself, or the raw string as
    # shown on the page ("27 декабря 2022", "Jan 07, 2013 11:48") for the
    # date pipeline to parse.
    published: datetime | str | None = None
    language: str | None = None  # only when the page declares it reliably
    parent_url: str | None = None
    thread_url: str | None = None
    position: int = 0
    # Signals for company-reply detection: a staff/verified/official badge, or
    # the account's display title ("Официальный представитель").
    author_badge: str | None = None
    is_company_reply: bool | None = None  # set when the page says so outright
    company_hint: str | None = None  # e.g. the reviewed company on a review page
    rating: int | None = None  # 1..5 stars a review gives, where the site shows them
    labels: list[str] | None = None  # thread prefixes/labels shown beside the title ("Gelöst", "Frage")
    # the name the site gives itself on the page and where it was read (complaintwatch/sites.py
    # NameSource); set by crawlers/sitenames.py, stored per host by SiteNamePipeline
    site_name: str | None = None
    site_name_source: str | None = None
