"""What a delivery says: the alerts with their new posts and spike figures,
as an e-mail (plain text + HTML) and as a webhook's JSON.

Runs inside the web app's app context (never a request): the alert evaluation
(web/alerts.py) and the links (``url_for`` with SERVER_NAME from
``public_url``) are the web UI's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import url_for
from jinja2 import Environment, FileSystemLoader, select_autoescape

from complaintwatch.models import Post, SavedSearch
from web.alerts import AlertState
from web.feeds import post_title, text_start
from web.serialize import safe_url
from web.trends import Spike

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"], default_for_string=False, default=False),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(slots=True)
class PostLine:
    id: int | None  # Post.id: set for every post read back from the store
    title: str
    excerpt: str
    published_at: datetime | None
    site: str
    link: str  # this post's page in the web UI
    source: str | None  # the original page (http/https only)


@dataclass(slots=True)
class AlertSection:
    alert: SavedSearch
    description: str
    spike: Spike
    posts: list[PostLine]
    more: int  # new posts found beyond those listed
    links: dict[str, str] = field(default_factory=dict)

    @property
    def new(self) -> int:
        return len(self.posts) + self.more


@dataclass(slots=True)
class Content:
    event: str  # "spike" | "digest"
    key: str
    subject: str
    sections: list[AlertSection]
    since: datetime | None = None
    until: datetime | None = None


def post_line(p: Post) -> PostLine:
    return PostLine(
        id=p.id,
        title=post_title(p),
        excerpt=text_start(p.text, 280),
        published_at=p.published_at,
        site=p.source_site,
        link=url_for("posts.post", post_id=p.id, _external=True),
        source=safe_url(p.url),
    )


def section(state: AlertState, posts: list[Post], more: int) -> AlertSection:
    a = state.alert
    return AlertSection(
        alert=a,
        description=state.description,
        spike=state.spike,
        posts=[post_line(p) for p in posts],
        more=more,
        links={
            "html": url_for("alerts.alert", alert_id=a.id, _external=True),
            "search": url_for("search.search", _external=True, **state.search_args),
            "feed": url_for("alerts.feed", alert_id=a.id, _external=True),
        },
    )


def spike_subject(s: AlertSection) -> str:
    return (
        f"complaintwatch: spike in “{s.alert.name}” ({s.spike.recent} posts in 30 days, usually {s.spike.expected:.1f})"
    )


def digest_subject(sections: list[AlertSection], day: str) -> str:
    new = sum(s.new for s in sections)
    with_new = sum(1 for s in sections if s.new)
    return f"complaintwatch daily digest, {day}: {new} new posts in {with_new} alerts"


def render_mail(c: Content) -> tuple[str, str]:
    """(plain text, HTML)."""
    account = url_for("auth.account", _external=True)
    ctx = {"c": c, "account_url": account}
    return _env.get_template("message.txt").render(ctx), _env.get_template("message.html").render(ctx)


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def payload(c: Content, sent_at: datetime) -> dict:
    """The webhook's JSON body."""
    return {
        "event": c.event,
        "delivery": c.key,
        "sent_at": _iso(sent_at),
        "period": {"since": _iso(c.since), "until": _iso(c.until)} if c.event == "digest" else None,
        "alerts": [
            {
                "id": s.alert.id,
                "name": s.alert.name,
                "kind": s.alert.kind,
                "params": dict(s.alert.params),
                "description": s.description,
                "new_posts": s.new,
                "spike": {
                    "spike": s.spike.spike,
                    "trend": s.spike.label,
                    "last_30_days": s.spike.recent,
                    "previous_180_days": s.spike.baseline,
                    "expected_30_days": round(s.spike.expected, 2),
                },
                "links": s.links,
                "posts": [
                    {
                        "id": p.id,
                        "title": p.title,
                        "excerpt": p.excerpt,
                        "published_at": _iso(p.published_at),
                        "site": p.site,
                        "link": p.link,
                        "url": p.source,
                    }
                    for p in s.posts
                ],
            }
            for s in c.sections
        ],
    }
