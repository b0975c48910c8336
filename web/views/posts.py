"""One post with its thread; the company's reply highlighted."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from ..params import MAX_SQL_INT
from ..reports import incidents_by_id
from ..services import store

bp = Blueprint("posts", __name__)


@bp.get("/post/<int:post_id>")
def post(post_id: int):
    p = store().get_post(post_id) if post_id <= MAX_SQL_INT else None
    if p is None:
        abort(404, description="No such post.")
    thread = store().thread(p.thread_url or p.url)
    if not any(t.id == p.id for t in thread):
        thread = [p, *thread]
    # a comment's page is headed by the comment and links to its thread's opening post (when stored)
    root = next((t for t in thread if t.position == 0 and not t.is_comment), None) if p.is_comment else None
    return render_template(
        "post.html",
        post=p,
        thread_root=root,
        thread=thread if len(thread) > 1 else [],
        incidents=incidents_by_id(),
        company_replied=any(t.is_company_reply for t in thread),
        also_posted=store().same_story(p),  # the same text on other URLs: one story, every source kept
    )
