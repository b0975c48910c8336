"""Review-site spider (company pages and single reviews of review sites).

    scrapy crawl reviews -a start_urls=https://uk.trustpilot.com/review/example.com
    scrapy crawl reviews -a start_urls=https://reviews.example/sitemap.xml

Reviews come from schema.org Review objects (JSON-LD or microdata, via
extruct) when the page has them, else from the review cards of the review
engines in crawlers/engines/*.toml (Trustpilot's 2016-2020 and 2021+ layouts),
else Trustpilot's __NEXT_DATA__ JSON, else the generic extractor's records.
Each review is a root post with ``company_hint`` = the reviewed company; the
company's reply, when shown, is a child post with ``is_company_reply=True``.
Company-page pagination is followed; single-review pages are fetched only for
cards that do not carry the review text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from parsel import Selector
from scrapy.http import Request, Response

from crawlers.engines import Query, engines_of
from crawlers.extraction.encoding import loads_json, response_text
from crawlers.extraction.generic import GenericPost
from crawlers.extraction.rules import all_values, first_value, read_cards
from crawlers.extraction.structured import find_typed, first_str, name_of, structured_items, types_of
from crawlers.extraction.text import clean_lines, declared_language, language_if_plausible
from crawlers.items import PostItem
from crawlers.middlewares import PAGINATION  # marks a next-page request (crawl bounds)
from crawlers.spiders.base import BaseSpider
from crawlers.spiders.fallback import content_key, generic_items, read_thread, rules_on

_ORG_TYPES = {"Organization", "Corporation", "LocalBusiness", "OnlineStore", "Store", "Brand", "Product", "Service"}
_REVIEW_TYPES = ("Review", "UserReview", "CriticReview", "EmployerReview")
REVIEW_ENGINES = engines_of("reviews")
_NEXT = [Query(css='link[rel="next"]::attr(href)'), Query(css='a[rel="next"]::attr(href)')]
_NEXT += [q for e in REVIEW_ENGINES for q in e.page.next_page]
_REPLY_FROM = re.compile(r"^(?:reply from|response from|ответ от|antwort von)\s+", re.I)
# Index pages link to company pages (/review/<domain>) and categories.
_COMPANY_LINK = re.compile(r"/review/[^/?#]+/?(?:\?[^#]*)?$|/categories/[^/?#]+/?$")
_STARS = re.compile(r"(?<![\d.,])(\d+(?:[.,]\d+)?)(?![\d.,]*%)")


@dataclass(slots=True)
class Review:
    author: str | None = None
    title: str = ""
    text: str = ""
    published: str | None = None
    url: str | None = None
    company: str | None = None
    reply_text: str = ""
    reply_author: str | None = None
    reply_published: str | None = None
    review_id: str | None = None
    language: str | None = None  # declared on the review itself (inLanguage, lang=)
    rating: int | None = None  # 1..5 stars


def stars(value: Any, best: Any = None, worst: Any = None) -> int | None:
    """A review's rating as 1..5 stars: a number, or text such as "5 stars:
    Excellent" / "stars-4.svg" / "Оценка 2 из 5", scaled from a
    schema.org best/worst range other than 1..5; None when there is none."""
    if isinstance(value, dict):  # schema.org Rating
        return stars(value.get("ratingValue"), value.get("bestRating"), value.get("worstRating"))
    try:
        if isinstance(value, str):
            m = _STARS.search(value)
            value = m.group(1).replace(",", ".") if m else None
        v = float(value) if value is not None and not isinstance(value, bool) else None
        hi = float(best) if best not in (None, "") else 5.0
        lo = float(worst) if worst not in (None, "") else 1.0
    except (TypeError, ValueError):
        return None
    if v is None or not hi > lo or not lo <= v <= hi:
        return None
    return round(1 + 4 * (v - lo) / (hi - lo))


def _key(text: str) -> str:
    return " ".join(text.lower().split())[:80]


def _json(sel: Selector, query: str) -> dict[str, Any]:
    raw = sel.css(query).get()
    try:
        data = loads_json(raw) if raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# --- sources -----------------------------------------------------------------


def structured_reviews(html: str, url: str) -> list[Review]:
    """schema.org Review objects, each with the company it is about."""
    out = []
    for obj, parent in find_typed(structured_items(html, url), *_REVIEW_TYPES):
        company = name_of(obj.get("itemReviewed"))
        if not company and parent is not None and types_of(parent) & _ORG_TYPES:
            company = name_of(parent)
        ident = first_str(obj.get("url")) or first_str(obj.get("@id"))
        review = Review(
            author=name_of(obj.get("author")),
            title=first_str(obj.get("name") or obj.get("headline")) or "",
            text=first_str(obj.get("reviewBody") or obj.get("description") or obj.get("text")) or "",
            published=first_str(obj.get("datePublished") or obj.get("dateCreated")),
            url=ident if ident and ident.startswith(("http", "/")) else None,
            company=company,
            language=first_str(obj.get("inLanguage")),
            rating=stars(obj.get("reviewRating")),
        )
        # Not schema.org vocabulary, but how sites attach a business response.
        for key in ("comment", "reply", "response", "companyReply"):
            reply = obj.get(key)
            reply = reply[0] if isinstance(reply, list) and reply else reply
            if isinstance(reply, dict):
                review.reply_text = (
                    first_str(reply.get("text") or reply.get("reviewBody") or reply.get("description")) or ""
                )
                review.reply_author = name_of(reply.get("author"))
                review.reply_published = first_str(reply.get("datePublished") or reply.get("dateCreated"))
                break
        out.append(review)
    return out


def next_data_reviews(sel: Selector) -> list[Review]:
    """Trustpilot 2021+: the page's Next.js state lists the reviews."""
    props = _json(sel, "script#__NEXT_DATA__::text").get("props", {}).get("pageProps", {})
    unit = props.get("businessUnit") or {}
    company = unit.get("displayName") or unit.get("identifyingName")
    raw = props.get("reviews") or ([props["review"]] if isinstance(props.get("review"), dict) else [])
    out = []
    for r in raw if isinstance(raw, list) else []:
        if not isinstance(r, dict):
            continue
        reply = r.get("reply") or {}
        out.append(
            Review(
                author=(r.get("consumer") or {}).get("displayName"),
                title=r.get("title") or "",
                text=r.get("text") or "",
                published=(r.get("dates") or {}).get("publishedDate"),
                review_id=r.get("id"),
                company=company or (r.get("businessUnit") or {}).get("displayName"),
                reply_text=reply.get("message") or "",
                reply_published=reply.get("publishedDate") or (reply.get("dates") or {}).get("publishedDate"),
                rating=stars(r.get("rating")),
            )
        )
    return out


def markup_reviews(sel: Selector) -> list[Review]:
    """Review cards in the HTML, by the review engines' rules
    (crawlers/engines/*.toml with kind "reviews"; engines the page names first)."""
    named = [e for e in REVIEW_ENGINES if e.detected(sel.root)]
    for engine in named + [e for e in REVIEW_ENGINES if e not in named]:
        assert engine.reviews is not None
        cards = read_cards(engine.reviews, sel.root)
        if not cards:
            continue
        page_company = first_value(sel.root, engine.reviews.page_company)
        return [
            Review(
                author=c["author"],
                title=c["title"] or "",
                text=c["text"] or "",
                published=c["date"],
                url=c["url"],
                company=c["company"] or page_company,
                review_id=c["review_id"],
                language=c["language"],
                rating=stars(c["rating"]),
                reply_text=c["reply_text"] or "",
                reply_author=_REPLY_FROM.sub("", c["reply_author"] or "").strip() or None,
                reply_published=c["reply_date"],
            )
            for c in cards
        ]
    return []


def _merge(structured: list[Review], cards: list[Review]) -> list[Review]:
    """Structured data wins; markup fills in what it lacks (the reply block,
    the permalink), matched by review text or, failing that, by author. Cards
    with no structured twin (e.g. truncated ones) are kept as they are."""
    by_text = {_key(c.text): c for c in cards if c.text}
    by_author = {c.author: c for c in cards if c.author and sum(x.author == c.author for x in cards) == 1}
    matched: set[int] = set()
    for review in structured:
        card = by_text.get(_key(review.text)) or (by_author.get(review.author) if review.author else None)
        if card is None or id(card) in matched:
            continue
        matched.add(id(card))
        review.url = review.url or card.url
        review.review_id = review.review_id or card.review_id
        review.company = review.company or card.company
        review.language = review.language or card.language
        review.rating = review.rating or card.rating
        if not review.reply_text:
            review.reply_text, review.reply_author = card.reply_text, card.reply_author
            review.reply_published = card.reply_published
    return structured + [c for c in cards if id(c) not in matched]


def _words(text: str | None) -> str:
    return " ".join(re.findall(r"\w+", (text or "").lower()))


def _agrees(structured: str, visible: str) -> bool:
    """Whether two texts of one review are the same words (one may be cut short)."""
    a, b = _words(structured), _words(visible)
    head = 8
    return bool(a and b) and (" ".join(a.split()[:head]) in b or " ".join(b.split()[:head]) in a)


def _with_visible(structured: list[Review], visible: list[GenericPost]) -> list[Review]:
    """Structured reviews checked against the review records the page shows
    (the generic extractor's): a structured text the visible one does not
    share (a microdata placeholder such as "comment") gives way to the
    visible text; visible records with no structured twin (reviews left out
    of the JSON-LD, the shop's replies) are added, when the records are the
    review list (they match at least half the structured reviews)."""
    matched: set[int] = set()
    for review in structured:
        twin = next(
            (
                i
                for i, post in enumerate(visible)
                if i not in matched
                and (_agrees(review.text, post.text) or (review.author and post.author == review.author))
            ),
            None,
        )
        if twin is None:
            continue
        matched.add(twin)
        post = visible[twin]
        if not _agrees(review.text, post.text):
            review.text = post.text
        review.author = review.author or post.author
        review.published = review.published or post.raw_date or (post.published.isoformat() if post.published else None)
    if len(matched) * 2 < len(structured):
        return structured
    company = next((r.company for r in structured if r.company), None)
    extra = [
        Review(
            author=p.author,
            text=p.text,
            published=p.raw_date or (p.published.isoformat() if p.published else None),
            url=p.permalink,
            review_id=p.anchor,
            company=company,
        )
        for i, p in enumerate(visible)
        if i not in matched
    ]
    return structured + extra


def _reply_url(review_url: str) -> str:
    """/reviews/<id> -> /reviews/<id>#reply; page#<id> -> page#<id>-reply."""
    page, _, fragment = review_url.partition("#")
    return f"{page}#{fragment}-reply" if fragment else f"{page}#reply"


class ReviewsSpider(BaseSpider):
    name = "reviews"
    site_kind = "review"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Company pages (reviews + next page), single reviews, sitemaps.

        @url http://127.0.0.1:8765/review_trustpilot__en__gousto_single_review.html
        @returns items 1 1
        @returns requests 0 0
        @scrapes url title text author published company_hint
        """
        return super().parse(response, **kwargs)

    def parse_page(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        html = response_text(response)
        sel = Selector(text=html, base_url=response.url)
        if not rules_on(self):  # -a rules=off: the generic extractor alone
            yield from generic_items(self, response, html, sel, separate=True)
            return
        cards = markup_reviews(sel) or next_data_reviews(sel)
        structured = structured_reviews(html, response.url)
        if structured and not cards:  # what the page shows: visible text over placeholders, reviews missing there
            structured = _with_visible(structured, read_thread(self, response, html, sel).posts)
        reviews = _merge(structured, cards) if structured else cards
        page_company = next((r.company for r in reviews if r.company), None)
        for review in reviews:
            review.company = review.company or page_company
        declared = declared_language(sel)
        languages = [declared] if declared else None
        if not reviews and (thread := read_thread(self, response, html, sel)).posts:
            # no review markup we know, but repeated posts: the generic extractor's
            yield from generic_items(self, response, html, sel, thread=thread, separate=True)
            return
        if not reviews:  # home/category page: go to the companies' review pages
            for href in dict.fromkeys(sel.css("a::attr(href)").getall()):
                if _COMPANY_LINK.search(href) and (url := self.web_url(response, href)):
                    yield Request(url, callback=self.parse)
        single_page = len(reviews) == 1 and self._is_own_page(response, sel, reviews[0].url)
        for index, review in enumerate(reviews):
            if not review.text.strip() and review.url and not single_page:
                # Truncated card on a listing: the single-review page has the text.
                if url := self.web_url(response, review.url):
                    yield Request(url, callback=self.parse)
                continue
            yield from self._items(response, review, index, single_page, declared, languages)
        for href in all_values(sel.root, _NEXT):
            if url := self.web_url(response, href):
                yield Request(url, callback=self.parse, meta={PAGINATION: True})
                break

    def _is_own_page(self, response: Response, sel: Selector, review_url: str | None) -> bool:
        """A lone review whose permalink is this page (or has none) is a
        single-review page, not a company page with one review."""
        if not review_url:
            return True
        own = {urlsplit(response.url).path}
        if canonical := self.canonical(sel):
            own.add(urlsplit(response.urljoin(canonical)).path)
        return urlsplit(response.urljoin(review_url)).path in own

    def _items(
        self,
        response: Response,
        review: Review,
        index: int,
        single_page: bool,
        declared: str | None,
        languages: list[str] | None,
    ) -> Iterator[PostItem]:
        page = self.page_url(response)
        if single_page:
            url = page
        elif review.url and (link := self.permalink(response, review.url, page)):
            url = link
        else:  # no permalink, or one off-site / a script URL (permalink logs that)
            # the review's own id, else what it says (never its position on the page)
            url = f"{page}#{review.review_id or content_key(review.author, review.published, review.text)}"
        text = clean_lines(review.text)
        declared = review.language or declared
        yield from self.emit(
            self.new_item(
                url,
                title=" ".join(review.title.split()),
                text=text,
                author=review.author,
                published=self.date(review.published, languages),
                language=language_if_plausible(declared, text),
                thread_url=url,
                company_hint=review.company,
                rating=review.rating,
            )
        )
        if review.reply_text.strip():
            reply_text = clean_lines(review.reply_text)
            yield from self.emit(
                self.new_item(
                    _reply_url(url),
                    title=" ".join(review.title.split()),
                    text=reply_text,
                    author=review.reply_author or review.company,
                    published=self.date(review.reply_published, languages),
                    language=language_if_plausible(declared, reply_text),
                    parent_url=url,
                    thread_url=url,
                    position=1,
                    author_badge="company reply",
                    is_company_reply=True,
                    company_hint=review.company,
                )
            )
