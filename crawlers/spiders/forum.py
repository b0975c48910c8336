"""Forum thread spider: XenForo 1/2, vBulletin 4, phpBB 3 (prosilver),
Discourse (server-rendered crawler view) and Stack Exchange Q&A.

    scrapy crawl forum -a start_urls=https://forum.example/threads/x.123/
    scrapy crawl forum -a start_urls=https://forum.example/sitemap.xml

Every message is its own post. The thread's first message is the root
(position 0, url = thread url); replies get the forum's own post number minus
one as position when the page shows it ("#661" -> 660, so positions stay
consistent across pages), else their order on the page. Thread pagination
(rel=next) is followed; forum index pages lead to threads and sub-forums.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from parsel import Selector
from scrapy.http import Request, Response

from crawlers.extraction.encoding import loads_json, response_text
from crawlers.extraction.text import (
    clean_lines,
    css_text,
    declared_language,
    language_if_plausible,
    node_text,
    title_and_labels,
)
from crawlers.items import PostItem
from crawlers.middlewares import PAGINATION  # marks a next-page request (crawl bounds)
from crawlers.spiders.base import BaseSpider, strip_session, without_fragment
from crawlers.spiders.fallback import generic_items, read_thread, rules_on, unrecognised


@dataclass(slots=True)
class Message:
    """One message as read off the page, before thread bookkeeping."""

    author: str | None
    raw_date: str | None
    body: Selector | None
    drop: str | None = None  # quotes etc. inside body that are not the author's words
    permalink: str | None = None
    number: int | None = None  # the forum's own post counter, 1 = opening post
    badge: str | None = None


_NUMBER = re.compile(r"#\s*(\d+)")
_DMY_TIME = re.compile(
    r"(?:\d{1,2}\.\d{1,2}\.\d{2,4}|heute|gestern|today|yesterday|сегодня|вчера)\S*,?\s*\d{1,2}:\d{2}", re.I
)


def _join(sel: Selector | Any, query: str) -> str | None:
    return css_text(sel, query) or None


def _number(text: str | None) -> int | None:
    m = _NUMBER.search(text or "")
    return int(m[1]) if m else None


def _badge(*parts: str | None) -> str | None:
    seen = list(dict.fromkeys(p for p in parts if p))
    return " / ".join(seen) or None


# --- engines: page -> messages --------------------------------------------


def xenforo(sel: Selector) -> list[Message]:
    out = []
    for art in sel.css("article.message--post, article.message[data-author]"):
        opposite = _join(art, ".message-attribution-opposite ::text")
        out.append(
            Message(
                author=art.attrib.get("data-author") or _join(art, ".message-name ::text"),
                raw_date=art.css(".message-attribution-main time::attr(datetime), time.u-dt::attr(datetime)").get(),
                body=(art.css(".message-body .bbWrapper") or art.css(".message-body") or [None])[0],
                drop="blockquote.bbCodeBlock--quote, .bbCodeBlock--unfurl, .message-lastEdit",
                permalink=art.css('.message-attribution a[href*="post"]::attr(href)').get(),
                number=_number(opposite),
                badge=_badge(_join(art, ".message-userBanner ::text"), _join(art, ".message-userTitle ::text")),
            )
        )
    for li in [] if out else sel.css("li.message[data-author]"):  # XenForo 1
        out.append(
            Message(
                author=li.attrib.get("data-author"),
                raw_date=li.css(".DateTime::attr(data-time)").get() or li.css(".DateTime::attr(title)").get(),
                body=(li.css(".messageText") or [None])[0],
                drop="div.bbCodeQuote",
                permalink=li.css("a.datePermalink::attr(href)").get(),
                number=_number(_join(li, ".postNumber ::text")),
                badge=_badge(_join(li, ".userBanner ::text"), _join(li, ".userTitle ::text")),
            )
        )
    return out


def vbulletin(sel: Selector) -> list[Message]:
    out = []
    for li in sel.css("li.postcontainer, li.postbitlegacy, li.postbit"):
        raw_date = _join(li, ".postdate .date ::text, .posthead .date ::text")
        if not raw_date:  # themes that move the date into the user block
            for dd in li.css("dl.userstats dd, .userinfo_extra dd"):
                text = " ".join(" ".join(dd.css("::text").getall()).split())
                if _DMY_TIME.search(text):
                    raw_date = text
                    break
        out.append(
            Message(
                author=_join(li, ".username strong ::text") or _join(li, ".username ::text"),
                raw_date=raw_date,
                body=(li.css(".postcontent") or li.css('[id^="post_message_"]') or [None])[0],
                drop=".bbcode_container",
                permalink=li.css("a.postcounter::attr(href)").get(),
                number=_number(_join(li, "a.postcounter ::text")),
                badge=_badge(_join(li, ".usertitle ::text"), _join(li, ".rank ::text")),
            )
        )
    return out


def phpbb(sel: Selector) -> list[Message]:
    out = []
    for post in sel.css("div.post"):
        if not post.css(".postbody"):
            continue
        author_p = post.css("p.author")
        raw_date = author_p.css("time::attr(datetime)").get()
        if not raw_date and author_p:  # phpBB < 3.2: the date is the last text node
            texts = [t.strip(" »\xa0\n\t") for t in author_p.xpath(".//text()").getall()]
            raw_date = next((t for t in reversed(texts) if t), None)
        out.append(
            Message(
                author=_join(post, ".postprofile .username ::text, .postprofile .username-coloured ::text")
                or _join(post, "p.author strong ::text"),
                raw_date=raw_date,
                body=(post.css(".postbody .content") or [None])[0],
                drop="blockquote",
                permalink=author_p.css('a[href*="#p"]::attr(href)').get()
                or (f"#{post.attrib['id']}" if post.attrib.get("id") else None),
                badge=_join(post, ".postprofile dd.profile-rank ::text"),
            )
        )
    return out


def discourse(sel: Selector) -> list[Message]:
    out = []
    for div in sel.css("div.crawler-post, [itemtype*='DiscussionForumPosting']"):
        published = div.css("[itemprop=datePublished]")
        out.append(
            Message(
                author=_join(div, ".creator [itemprop=name] ::text") or _join(div, ".creator a ::text"),
                raw_date=published.attrib.get("content") or published.attrib.get("datetime") if published else None,
                body=(div.css("[itemprop=articleBody]") or div.css(".post") or [None])[0],
                drop="aside.quote, .lightbox-wrapper .meta",
                number=_number(_join(div, "[itemprop=position] ::text")),
            )
        )
    return out


ENGINES: tuple[Callable[[Selector], list[Message]], ...] = (xenforo, vbulletin, phpbb, discourse)

_TITLE = (
    "h1.p-title-value ::text",  # XenForo 2
    ".titleBar h1 ::text",  # XenForo 1
    "span.threadtitle ::text",  # vBulletin 4
    "#pagetitle h1 ::text",
    "h2.topic-title ::text",  # phpBB
    "h1.crawler-topic-title ::text",  # Discourse
    "#question-header h1 ::text",  # Stack Exchange
    'meta[property="og:title"]::attr(content)',
    "h1 ::text",
    "title::text",
)


def _thread_title(sel: Selector) -> tuple[str, list[str]]:
    """The thread's title, with its prefixes/labels ("Gelöst", "Frage") apart."""
    for query in _TITLE:
        if query.endswith(" ::text"):
            for heading in sel.css(query.removesuffix(" ::text")):
                title, labels = title_and_labels(heading)
                if title:
                    return title, labels
        elif got := _join(sel, query):
            return got, []
    return "", []


_THREAD_LINKS = (
    ".structItem-title a[href*='threads/']::attr(href)",  # XenForo 2
    "h3.title a[href*='threads/']::attr(href)",  # XenForo 1
    "a.title[id^='thread_title_']::attr(href)",  # vBulletin 4
    "a.topictitle::attr(href)",  # phpBB
    "a.title.raw-link::attr(href)",  # Discourse
    ".topic-list a.title::attr(href)",
    "a.question-hyperlink::attr(href)",  # Stack Exchange lists
)
_SUBFORUM_LINKS = (".node-title a::attr(href)", "a.forumtitle::attr(href)", ".forumtitle a::attr(href)")
# Search results (crawlers/discovery.py makes the search URLs): results are
# excerpts, never read as posts; each leads to its thread. Thread lists
# (phpBB sr=topics, vBulletin showposts=0) match _THREAD_LINKS as well.
_SEARCH_RESULT_LINKS = (
    "h3.contentRow-title a::attr(href)",  # XenForo 2 (threads and posts)
    "li.searchResult h3.title a::attr(href)",  # XenForo 1
    "div.search.post dl.postprofile a[href*='viewtopic.php']::attr(href)",  # phpBB 3 posts view: the topic link
)
_SEARCH_PATH = re.compile(r"(?:^|/)search(?:\.php|/|$)")
_NEXT = ('link[rel="next"]::attr(href)', 'a[rel="next"]::attr(href)', "a.pageNav-jump--next::attr(href)")
_PAGE_SUFFIX = re.compile(r"/page-\d+/?$")
_PAGE_PARAMS = frozenset({"page", "start"})


def thread_root_url(url: str) -> str:
    """Page 1 of a thread from a later page's URL (XenForo /page-3,
    Discourse ?page=3, phpBB &start=40)."""
    parts = urlsplit(url)
    path = _PAGE_SUFFIX.sub("/", parts.path)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _PAGE_PARAMS])
    return urlunsplit(parts._replace(path=path, query=query, fragment=""))


class ForumSpider(BaseSpider):
    name = "forum"
    site_kind = "forum"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Thread pages (all messages), forum indexes (follow threads), sitemaps.

        @url http://127.0.0.1:8765/forum_xenforo__de__katzen-forum_thread.html
        @returns items 18 18
        @returns requests 0 0
        @scrapes url text author published position thread_url
        """
        return super().parse(response, **kwargs)

    def parse_page(
        self, response: Response, thread_url: str | None = None, next_position: int = 0, **kwargs: Any
    ) -> Iterator[Any]:
        html = response_text(response)
        sel = Selector(text=html, base_url=response.url)
        if not rules_on(self):  # -a rules=off: the generic extractor alone
            yield from generic_items(self, response, html, sel)
            return
        if _SEARCH_PATH.search(urlsplit(response.url).path):
            yield from self._search_results(response, sel)
            return
        if sel.css("#question, div.question[data-questionid]"):
            yield from self._stackexchange(response, sel)
            return
        messages = next((m for engine in ENGINES if (m := engine(sel))), [])
        if not any(m.body is not None and node_text(m.body).strip() for m in messages):
            # No engine rule matched, or one matched and read nothing. A board
            # index (links to threads or sub-forums) is followed, not read as
            # a thread; anything else goes to the generic extractor.
            index = list(self._follow_index(response, sel, with_next=False))
            thread = read_thread(self, response, html, sel) if thread_url is None and not index else None
            if thread is not None and (thread.posts or (thread.article and thread.article.published)):
                yield from generic_items(self, response, html, sel, thread=thread)
                return
            requests = index + list(self._follow_next(response, sel))
            if not requests:
                unrecognised(self, response)
            yield from requests
            return
        first_page = thread_url is None and not sel.css('link[rel="prev"], a[rel="prev"]')
        if thread_url is None:
            # rel=start names page 1 of the thread, unless it points off-site (own_link logs that)
            start = self.own_link(response, sel.css('link[rel="start"]::attr(href), a[rel="start"]::attr(href)').get())
            thread_url = strip_session(start) if start else thread_root_url(self.page_url(response))
        title, labels = _thread_title(sel)
        declared = declared_language(sel)
        languages = [declared] if declared else None
        position = next_position
        for index, msg in enumerate(messages):
            position = msg.number - 1 if msg.number else next_position + index
            is_root = msg.number == 1 or (msg.number is None and first_page and index == 0)
            text = clean_lines(node_text(msg.body, drop=msg.drop)) if msg.body is not None else ""
            url = thread_url if is_root else self._message_url(response, msg, thread_url, position)
            item = self.new_item(
                url,
                title=title,  # later pages have no root post: keep the thread's title on every message
                labels=labels or None,
                text=text,
                author=msg.author,
                published=self.date(msg.raw_date, languages),
                language=language_if_plausible(declared, text),
                parent_url=None if is_root else thread_url,
                thread_url=thread_url,
                position=0 if is_root else max(position, 1),
                author_badge=msg.badge,
            )
            yield from self.emit(item)
        for q in _NEXT:
            if url := self.web_url(response, sel.css(q).get()):
                yield Request(
                    url,
                    callback=self.parse,
                    cb_kwargs={"thread_url": thread_url, "next_position": position + 1},
                    meta={PAGINATION: True},
                )
                break

    def _search_results(self, response: Response, sel: Selector) -> Iterator[Request]:
        """A forum's search results page: the threads it lists, and its next page."""
        requests = [
            Request(strip_session(url), callback=self.parse)
            for q in _SEARCH_RESULT_LINKS
            for href in dict.fromkeys(sel.css(q).getall())
            if (url := self.web_url(response, href))
        ]
        requests += self._follow_index(response, sel)
        if not requests:
            self.logger.info("search results page with no results %s", response.url)
        yield from requests

    def parse_json(self, response: Response) -> Iterator[Any]:
        """Discourse search.json: follow its topics (/t/<slug>/<id>, crawler view)."""
        data = loads_json(response_text(response))
        topics = data.get("topics") if isinstance(data, dict) else None
        if not isinstance(topics, list) or not ("grouped_search_result" in data or "posts" in data):
            yield from super().parse_json(response)
            return
        base = response.url.split("search.json", 1)[0]  # a Discourse in a subfolder keeps it
        for t in topics:
            if isinstance(t, dict) and isinstance(t.get("id"), int) and isinstance(t.get("slug"), str):
                if url := self.web_url(response, urljoin(base, f"t/{t['slug'] or 'topic'}/{t['id']}")):
                    yield Request(url, callback=self.parse)

    def _message_url(self, response: Response, msg: Message, thread_url: str, position: int) -> str:
        if link := self.permalink(response, msg.permalink, thread_url):
            return link
        # Discourse has no per-post links in its crawler view, but its post URLs
        # are /t/<slug>/<topic id>/<post number> by construction.
        if msg.number and re.search(r"/t/[^/]+/\d+/?$", urlsplit(thread_url).path):
            return f"{without_fragment(thread_url).rstrip('/')}/{msg.number}"
        return self.fallback_url(thread_url, position)

    def _follow_index(self, response: Response, sel: Selector, with_next: bool = True) -> Iterator[Request]:
        for group in (_THREAD_LINKS, _SUBFORUM_LINKS):
            for q in group:
                for href in dict.fromkeys(sel.css(q).getall()):
                    if url := self.web_url(response, href):
                        yield Request(strip_session(url), callback=self.parse)
        if with_next:
            yield from self._follow_next(response, sel)

    def _follow_next(self, response: Response, sel: Selector) -> Iterator[Request]:
        for q in _NEXT:
            if url := self.web_url(response, sel.css(q).get()):
                yield Request(strip_session(url), callback=self.parse, meta={PAGINATION: True})
                break

    def _stackexchange(self, response: Response, sel: Selector) -> Iterator[PostItem]:
        """Question (root), answers (children of the question) and the comments
        under each (children of the post they are attached to)."""
        thread_url = self.page_url(response)
        declared = declared_language(sel)
        title = _join(sel, "#question-header h1 ::text") or ""
        position = 0
        for post in sel.css("#question, div.answer"):
            is_question = post.attrib.get("id") == "question" or "question" in post.attrib.get("class", "").split()
            signatures = post.css(".post-signature")
            owner = next(
                (s for s in signatures if re.search(r"asked|answered", _join(s, ".user-action-time ::text") or "")),
                signatures[-1] if signatures else None,
            )
            body = post.css(".js-post-body, .post-text, [itemprop=text]")
            text = clean_lines(node_text(body[0])) if body else ""
            post_url = thread_url if is_question else f"{thread_url}#{post.attrib.get('id', f'c{position}')}"
            yield from self.emit(
                self.new_item(
                    post_url,
                    title=title,
                    text=text,
                    author=(
                        _join(owner, ".user-details [itemprop=name] ::text") or _join(owner, ".user-details a ::text")
                    )
                    if owner
                    else None,
                    published=self.date(owner.css(".relativetime::attr(title)").get()) if owner else None,
                    language=language_if_plausible(declared, text),
                    parent_url=None if is_question else thread_url,
                    thread_url=thread_url,
                    position=position,
                )
            )
            for comment in post.css("li.comment"):
                position += 1
                raw = (comment.css(".relativetime-clean::attr(title)").get() or "").split(",")[0]
                copy = comment.css(".comment-copy")
                ctext = clean_lines(node_text(copy[0])) if copy else ""
                yield from self.emit(
                    self.new_item(
                        f"{thread_url}#{comment.attrib.get('id') or f'c{position}'}",
                        title=title,
                        text=ctext,
                        author=_join(comment, ".comment-user ::text"),
                        published=self.date(raw),
                        language=language_if_plausible(declared, ctext),
                        parent_url=post_url,
                        thread_url=thread_url,
                        position=position,
                    )
                )
            position += 1
