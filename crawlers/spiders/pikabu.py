"""Pikabu feed pages: every story card is a post.

    scrapy crawl pikabu -a start_urls=https://pikabu.ru/,https://pikabu.ru/tag/Ozon

Pikabu has served UTF-8 bytes under <meta charset="windows-1251">, so the body
is always decoded through `extraction.encoding`, never `response.text`.
A story page (pikabu.ru/story/...) is the same card markup and works too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from parsel import Selector
from scrapy.http import Response

from crawlers.extraction.encoding import response_text
from crawlers.extraction.text import clean_lines, css_text, declared_language, language_if_plausible, node_text
from crawlers.spiders.base import BaseSpider


class PikabuSpider(BaseSpider):
    name = "pikabu"
    site_kind = "social"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Story cards of a feed page.

        @url http://127.0.0.1:8765/pikabu_feed__ru__hot_utf8.html
        @returns items 12 12
        @returns requests 0 0
        @scrapes url title text author published language
        """
        return super().parse(response, **kwargs)

    def parse_page(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        sel = Selector(text=response_text(response), base_url=response.url)
        declared = declared_language(sel)
        for card in sel.css("article.story"):
            link = card.css(".story__title-link::attr(href)").get()
            story_id = card.attrib.get("data-story-id")
            url = self.own_link(response, link, "story link") or f"{self.page_url(response)}#story-{story_id}"
            title = css_text(card, ".story__title ::text")
            # Text blocks only: image/video blocks carry no words, and the
            # sponsored label, tags and toolbar are not the author's.
            blocks = card.css(".story-block_type_text")
            text = "\n\n".join(node_text(b) for b in blocks) if blocks else ""
            if not text:
                content = card.css(".story__content")
                text = node_text(content[0], drop=".story__tags, .story__sponsor") if content else ""
            text = clean_lines(text) or title  # image-only stories: the title is the words
            shown = card.css("time.story__datetime::attr(datetime), .story__datetime::attr(datetime)").get()
            yield from self.emit(
                self.new_item(
                    url,
                    title=title,
                    text=text,
                    author=css_text(card, ".story__user .user__nick ::text")
                    or css_text(card, ".user__nick ::text")
                    or None,
                    published=self.date(shown),
                    language=language_if_plausible(declared, f"{title}\n{text}"),
                    thread_url=url,
                    author_badge=card.css(".story__user .user__label::attr(aria-label)").get(),
                )
            )
