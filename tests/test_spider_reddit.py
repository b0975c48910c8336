"""The reddit spider: the JSON API thread (main format) and the two new-UI
HTML captures (Redux state; rendered DOM)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from crawlers.spiders.reddit import RedditSpider, json_url
from tests.crawl_helpers import SHARED_PAGES, CrawlResult, crawl, shared_pages_url

UTC = timezone.utc
API = "reddit_api_json__en__r-announcements_were_back_comments.json"
NEWUI_STATE = "reddit_newui__en__r-python_init_py_thread.html"
NEWUI_DOM = "reddit_newui__en__askreddit_worth_it_purchases.html"
THREAD = "https://www.reddit.com/r/announcements/comments/n49rw/were_back/"
PY_THREAD = "https://www.reddit.com/r/Python/comments/1bbbwk/whats_your_opinion_on_what_to_include_in_init_py/"
ASK_THREAD = "https://www.reddit.com/r/AskReddit/comments/axtih6/what_is_the_most_worth_it_item_you_have_ever/"


def _count_json_comments() -> tuple[int, int, int]:
    """(t1 comments, of which body is [deleted]/[removed], "more" stubs) read off the file."""
    data = json.loads((SHARED_PAGES / API).read_text(encoding="utf-8"))
    comments = deleted = stubs = 0
    stack = list(data[1]["data"]["children"])
    while stack:
        child = stack.pop()
        if child["kind"] == "more":
            stubs += 1
        elif child["kind"] == "t1":
            comments += 1
            deleted += child["data"]["body"] in ("[deleted]", "[removed]")
            if child["data"].get("replies"):
                stack.extend(child["data"]["replies"]["data"]["children"])
    return comments, deleted, stubs


def _deleted_ids() -> set[str]:
    data = json.loads((SHARED_PAGES / API).read_text(encoding="utf-8"))
    out, stack = set(), list(data[1]["data"]["children"])
    while stack:
        child = stack.pop()
        if child["kind"] == "t1":
            if child["data"]["body"] in ("[deleted]", "[removed]"):
                out.add(child["data"]["id"])
            if child["data"].get("replies"):
                stack.extend(child["data"]["replies"]["data"]["children"])
    return out


@pytest.fixture(scope="module")
def result() -> CrawlResult:
    base = shared_pages_url()
    return crawl(RedditSpider, [f"{base}/{name}" for name in (API, NEWUI_STATE, NEWUI_DOM)])


def _thread(result: CrawlResult, url: str) -> list:
    return sorted((i for i in result.items if i.thread_url == url), key=lambda i: i.position)


def test_the_file_holds_what_provenance_says():
    assert _count_json_comments() == (485, 10, 177)


def test_api_thread_post(result):
    assert result.warnings("parse failed") == []
    post = _thread(result, THREAD)[0]
    assert (post.url, post.position, post.parent_url) == (THREAD, 0, None)
    assert post.title == "We're back"
    assert post.author == "alienth"
    assert post.published == datetime(2011, 12, 8, 3, 2, 24, tzinfo=UTC)
    assert post.author_badge == "admin"  # distinguished: Reddit staff
    assert post.text.startswith("Hey folks,") and post.site_kind == "social"


def test_api_thread_comments_nested_and_more_stubs_counted(result):
    _, *comments = _thread(result, THREAD)
    total, deleted, stubs = _count_json_comments()
    assert len(comments) == total - deleted == 475  # [deleted] bodies carry no text: skipped
    assert result.stats["complaintwatch/reddit_more_stubs"] == stubs
    assert result.stats["complaintwatch/reddit_unloaded_comments"] == 839
    assert result.stats["complaintwatch/empty_skipped"] >= deleted
    by_url = {c.url: c for c in comments}
    first = by_url[f"{THREAD}c364vol/"]
    assert (first.author, first.position, first.parent_url) == ("marcman84", 1, THREAD)
    assert first.published == datetime(2011, 12, 8, 3, 26, 47, tzinfo=UTC)
    reply = by_url[f"{THREAD}c364wqo/"]
    assert (reply.author, reply.parent_url, reply.position) == ("alienth", first.url, 2)
    # Ten levels deep, each comment hangs under the previous one; a deleted
    # comment (c3651jp) is skipped but its replies still point at it.
    chain = [
        "c364qyj",
        "c364w4w",
        "c3651jp",
        "c3653ef",
        "c3655sf",
        "c3657ha",
        "c3658mg",
        "c3659d1",
        "c365bnb",
        "c367xif",
    ]
    assert f"{THREAD}c3651jp/" not in by_url
    for parent, child in zip(chain, chain[1:]):
        if f"{THREAD}{child}/" in by_url:
            assert by_url[f"{THREAD}{child}/"].parent_url == f"{THREAD}{parent}/"
    positions = [c.position for c in comments]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    deleted_urls = {f"{THREAD}{cid}/" for cid in _deleted_ids()}
    assert all(c.parent_url in by_url or c.parent_url in deleted_urls or c.parent_url == THREAD for c in comments)


def test_new_ui_page_with_redux_state(result):
    post, *comments = _thread(result, PY_THREAD)
    assert post.title == "What's your opinion on what to include in __init__.py ?"
    assert post.author == "barisumog"
    assert post.published == datetime(2013, 3, 30, 18, 46, 24, tzinfo=UTC)
    assert len(comments) == 25  # 26 comment models, one deleted
    by_url = {c.url: c for c in comments}
    assert by_url[f"{PY_THREAD}c95ey1k/"].parent_url == f"{PY_THREAD}c95cjs5/"
    assert by_url[f"{PY_THREAD}c95cjs5/"].author == "reostra"


def test_new_ui_page_rendered_dom_only(result):
    post, *comments = _thread(result, ASK_THREAD)
    assert post.title == 'What is the most "worth it" item you have ever purchased?'
    assert len(comments) == 12  # 15 rendered, 3 deleted
    assert comments[0].author == "TheEngLife" and comments[0].text.startswith("A Miele canister vacuum.")
    nested = next(c for c in comments if c.author == "NC_Vixen")  # "level 2" under patches402
    assert nested.parent_url == next(c.url for c in comments if c.author == "patches402")
    assert all(c.published is not None for c in comments)  # "3 yr. ago", relative to crawl time


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.reddit.com/r/x/comments/abc/t/", "https://www.reddit.com/r/x/comments/abc/t/.json?raw_json=1"),
        ("https://old.reddit.com/r/x/", "https://old.reddit.com/r/x/.json?raw_json=1"),
        ("https://www.reddit.com/r/x/.json", "https://www.reddit.com/r/x/.json"),
        ("http://127.0.0.1:8000/thread.json", "http://127.0.0.1:8000/thread.json"),
    ],
)
def test_json_url(url, expected):
    assert json_url(url) == expected
