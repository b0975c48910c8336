"""Reddit threads: the JSON API format first, the 2018+ web UI as a fallback.

    scrapy crawl reddit -a start_urls=https://www.reddit.com/r/x/comments/abc/title/
    scrapy crawl reddit -a start_urls=https://www.reddit.com/r/x/   # newest posts of a subreddit

Thread and subreddit URLs on reddit.com are fetched as their ``.json`` twins
(``[post Listing, comment Listing]`` / a Listing of posts). Comments keep
their nesting: ``parent_url`` is the comment they answer. "more" stubs
(unloaded replies) are skipped and counted in a log line and in the stats.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from parsel import Selector
from scrapy.http import Request, Response

from crawlers.extraction.dates import from_timestamp
from crawlers.extraction.encoding import loads_json, response_text
from crawlers.extraction.text import clean_lines, node_text
from crawlers.items import PostItem
from crawlers.middlewares import PAGINATION  # marks a next-page request (crawl bounds)
from crawlers.spiders.base import BaseSpider, guarded
from crawlers.spiders.fallback import generic_items, read_thread, rules_on

REDDIT = "https://www.reddit.com"
_DELETED = frozenset({"[deleted]", "[removed]"})
_STATE = re.compile(r"window\.___r\s*=\s*(\{.*?\});?\s*</script>", re.S)


def json_url(url: str) -> str:
    """A reddit.com page URL -> its JSON API twin (raw_json=1 keeps &, <, >)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not (host == "reddit.com" or host.endswith(".reddit.com")) or parts.path.endswith(".json"):
        return url
    query = "&".join(q for q in (parts.query, "raw_json=1") if q)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/.json", query=query))


def _text(data: dict[str, Any], html_key: str, md_key: str) -> str:
    """Prefer the rendered HTML (links, lists become clean text) over markdown."""
    raw = data.get(md_key) or ""
    if raw.strip() in _DELETED:
        return ""
    html = data.get(html_key)
    if html:
        div = Selector(text=f"<div>{html}</div>").css("body > div")[0]
        # Emote comments ("[](/derpwizard 'Who doesn't?')") say it in a link title.
        text = clean_lines(node_text(div)) or " ".join(div.css("a::attr(title)").getall()).strip()
        if text:
            return text
    return clean_lines(raw)


def _badge(data: dict[str, Any]) -> str | None:
    parts = [data.get("distinguished"), data.get("author_flair_text")]
    return " / ".join(p for p in parts if p) or None


def _author(name: str | None) -> str | None:
    return None if not name or name in _DELETED else name


class RedditSpider(BaseSpider):
    name = "reddit"
    site_kind = "social"
    # Thread and comment URLs are built from the API's permalinks on REDDIT,
    # whatever host served the JSON: that host is this spider's allow-list.
    home_domains = ("reddit.com",)

    def __init__(self, *args: Any, max_pages: str | int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_pages = int(max_pages)  # subreddit listing pages to follow

    def start_request(self, url: str) -> Request:
        return Request(json_url(url), callback=self.parse, dont_filter=True)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Reddit JSON (thread or subreddit listing) or a new-UI thread page.

        @url http://127.0.0.1:8765/reddit_api_json__en__r-announcements_were_back_comments.json
        @returns items 476 476
        @returns requests 0 0
        @scrapes url text author published parent_url thread_url position
        """
        return super().parse(response, **kwargs)

    # --- JSON API ----------------------------------------------------------

    def parse_json(self, response: Response, page: int = 1) -> Iterator[Any]:
        data = loads_json(response_text(response))
        if isinstance(data, list) and len(data) >= 2:
            yield from self._thread(response, data)
        elif isinstance(data, dict) and data.get("kind") == "Listing":
            listing = data.get("data") or {}
            for child in listing.get("children") or []:
                permalink = (child.get("data") or {}).get("permalink")
                if child.get("kind") == "t3" and (url := self.web_url(response, urljoin(REDDIT, permalink or ""))):
                    yield Request(json_url(url), callback=self.parse)
            if listing.get("after") and page < self.max_pages:
                parts = urlsplit(response.url)
                query = re.sub(r"(^|&)after=[^&]*", "", parts.query).strip("&")
                query = "&".join(q for q in (query, f"after={listing['after']}") if q)
                yield Request(
                    urlunsplit(parts._replace(query=query)),
                    callback=self._listing_page,
                    cb_kwargs={"page": page + 1},
                    meta={PAGINATION: True},
                )
        else:
            self.logger.warning("parse failed %s: not a Reddit thread or listing", response.url)

    @guarded
    def _listing_page(self, response: Response, page: int) -> Iterator[Any]:
        yield from self.parse_json(response, page)

    def _thread(self, response: Response, data: list[Any]) -> Iterator[PostItem]:
        post = data[0]["data"]["children"][0]["data"]
        thread_url = urljoin(REDDIT, post.get("permalink") or "") or response.url
        yield from self.emit(
            self.new_item(
                thread_url,
                title=post.get("title") or "",
                # Link posts have no body; their title is what the author said.
                text=_text(post, "selftext_html", "selftext") or post.get("title") or "",
                author=_author(post.get("author")),
                published=from_timestamp(post["created_utc"]) if post.get("created_utc") else None,
                thread_url=thread_url,
                author_badge=_badge(post),
            )
        )
        urls = {post.get("name") or f"t3_{post.get('id')}": thread_url}
        counts = {"comments": 0, "stubs": 0, "unloaded": 0}
        position = 0
        stack = list(reversed(data[1].get("data", {}).get("children") or []))
        while stack:  # depth-first in listing order = the order the page shows
            child = stack.pop()
            kind, c = child.get("kind"), child.get("data") or {}
            if kind == "more":
                counts["stubs"] += 1
                counts["unloaded"] += len(c.get("children") or [])
                continue
            if kind != "t1":
                continue
            position += 1
            counts["comments"] += 1
            url = urljoin(REDDIT, c.get("permalink") or f"{urlsplit(thread_url).path}{c.get('id')}/")
            urls[c.get("name") or f"t1_{c.get('id')}"] = url
            yield from self.emit(
                self.new_item(
                    url,
                    title=post.get("title") or "",
                    text=_text(c, "body_html", "body"),
                    author=_author(c.get("author")),
                    published=from_timestamp(c["created_utc"]) if c.get("created_utc") else None,
                    parent_url=urls.get(c.get("parent_id") or "", thread_url),
                    thread_url=thread_url,
                    position=position,
                    author_badge=_badge(c),
                )
            )
            replies = c.get("replies")
            if isinstance(replies, dict):
                stack.extend(reversed(replies.get("data", {}).get("children") or []))
        self.logger.info(
            "reddit thread %s: %d comments, skipped %d 'more' stubs (%d unloaded comments)",
            thread_url,
            counts["comments"],
            counts["stubs"],
            counts["unloaded"],
        )
        self._stat("reddit_more_stubs", counts["stubs"])
        self._stat("reddit_unloaded_comments", counts["unloaded"])

    # --- new web UI (HTML) -------------------------------------------------

    def parse_page(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        html = response_text(response)
        sel = Selector(text=html, base_url=response.url)
        if not rules_on(self):  # -a rules=off: the generic extractor alone
            yield from generic_items(self, response, html, sel)
            return
        match = _STATE.search(html)
        state = loads_json(match[1]) if match else {}
        if (state.get("posts") or {}).get("models"):
            yield from self._from_state(sel, state)
        else:
            items = list(self._from_dom(response, sel))
            if len(items) <= 1 and len((thread := read_thread(self, response, html, sel)).all_posts) > 1:
                # no comment markup we know (old UI, other themes): the generic extractor's
                yield from generic_items(self, response, html, sel, thread=thread)
                return
            yield from items

    def _from_state(self, sel: Selector, state: dict[str, Any]) -> Iterator[PostItem]:
        """The page's Redux state holds the post and every loaded comment,
        including ones the HTML left collapsed."""
        post_id, post = next(iter(state["posts"]["models"].items()))
        thread_url = urljoin(REDDIT, post.get("permalink") or "")
        yield from self.emit(
            self.new_item(
                thread_url,
                title=post.get("title") or "",
                text=_rtjson(post.get("media")) or post.get("title") or "",
                author=_author(post.get("author")),
                published=from_timestamp(post["created"]) if post.get("created") else None,
                thread_url=thread_url,
            )
        )
        models = {
            k: v for k, v in (state.get("comments") or {}).get("models", {}).items() if v.get("postId") == post_id
        }
        shown = [cid for cid in dict.fromkeys(sel.xpath("//@id").re(r"^(t1_[a-z0-9]+)$")) if cid in models]
        rest = sorted((k for k in models if k not in shown), key=lambda k: models[k].get("created") or 0)
        urls = {post_id: thread_url}
        for position, cid in enumerate(shown + rest, start=1):
            c = models[cid]
            url = urljoin(REDDIT, c.get("permalink") or f"{urlsplit(thread_url).path}{cid[3:]}/")
            urls[cid] = url
            yield from self.emit(
                self.new_item(
                    url,
                    title=post.get("title") or "",
                    text="" if c.get("isDeleted") else _rtjson(c.get("media")),
                    author=_author(c.get("author")),
                    published=from_timestamp(c["created"]) if c.get("created") else None,
                    parent_url=urls.get(c.get("parentId") or "", thread_url),
                    thread_url=thread_url,
                    position=position,
                    author_badge=c.get("distinguishType") or ("admin" if c.get("isAdmin") else None),
                )
            )

    def _from_dom(self, response: Response, sel: Selector) -> Iterator[PostItem]:
        """Rendered comments only; dates are relative ("3 yr. ago")."""
        canonical = self.canonical(sel) or ""
        on_reddit = (urlsplit(canonical).hostname or "").endswith("reddit.com")
        thread_url = canonical if on_reddit else self.page_url(response)
        post = sel.css("[data-testid=post-container], [data-test-id=post-content]")
        heading = post.css("h1")
        title = " ".join(" ".join(heading[0].css("::text").getall()).split()) if heading else ""
        title = title or " ".join((sel.css("title::text").get() or "").split())
        body = sel.css(
            "[data-test-id=post-content] [data-click-id=text], [data-test-id=post-content] .RichTextJSON-root"
        )
        shown_date = " ".join(" ".join(post.css("[data-click-id=timestamp] ::text").getall()).split())
        yield from self.emit(
            self.new_item(
                thread_url,
                title=title,
                text=(clean_lines(node_text(body[0])) if body else "") or title,
                author=_user(post.css('a[href^="/user/"]::attr(href)').get()),
                published=self.date(shown_date, ["en"]),
                thread_url=thread_url,
            )
        )
        parents: list[str] = [thread_url]  # parents[level-1] = url of the open comment at that level
        for position, c in enumerate(sel.css("div.Comment"), start=1):
            cid = next((k for k in c.attrib.get("class", "").split() if k.startswith("t1_")), f"c{position}")
            level = int(c.css("span::text").re_first(r"level (\d+)") or 1)
            href = c.css(
                'a[id^="CommentTopMeta--Created"]::attr(href), [data-testid=comment_timestamp]::attr(href)'
            ).get()
            url = (
                urlunsplit(urlsplit(urljoin(REDDIT, href))._replace(query="", fragment=""))
                if href
                else f"{thread_url}#{cid}"
            )
            del parents[level:]
            parent = parents[-1]
            parents.append(url)
            shown = " ".join(
                " ".join(
                    c.css('a[id^="CommentTopMeta--Created"] ::text, [data-testid=comment_timestamp] ::text').getall()
                ).split()
            )
            text_node = c.css("[data-testid=comment], [data-test-id=comment]")
            yield from self.emit(
                self.new_item(
                    url,
                    title=title,
                    text=clean_lines(node_text(text_node[0])) if text_node else "",
                    author=_user(c.css('a[href^="/user/"]::attr(href)').get()),
                    published=self.date(shown, ["en"]),
                    parent_url=parent,
                    thread_url=thread_url,
                    position=position,
                )
            )


def _user(href: str | None) -> str | None:
    m = re.match(r"/user/([^/]+)", href or "")
    return m[1] if m else None


def _rtjson(media: Any) -> str:
    """Plain text of Reddit's rich-text JSON document ({"document": [...]})."""
    if not isinstance(media, dict):
        return ""
    doc = (media.get("richtextContent") or {}).get("document") or []
    out: list[str] = []

    def walk(nodes: list[Any]) -> None:
        for node in nodes:
            if not isinstance(node, dict):
                continue
            if node.get("e") in ("text", "raw", "link", "u/", "r/"):
                out.append(node.get("t") or "")
            walk(node.get("c") or [])
            if node.get("e") in ("par", "h", "li", "blockquote", "code"):
                out.append("\n")

    walk(doc)
    return clean_lines("".join(out) or media.get("markdownContent") or "")
