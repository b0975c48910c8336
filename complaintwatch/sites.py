"""What is known about a site beyond its host: the name it gives itself and its kind.

The crawl stores one record per host (the host as Post.source_site keeps it) in the
store's app state (kind "site"; crawlers/pipelines.py SiteNamePipeline); the pages
and the API show the name, links keep the host. No posts-schema change: a site is
named once, not on every post."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

SITE_STATE = "site"  # app-state kind; the key is the host (Post.source_site)

# where a name came from: the site's own markup for its name, the feed's title, or
# what the page title has besides the post's title ("Post title | Site")
NameSource = Literal["og:site_name", "application-name", "feed", "title"]
_STRENGTH = {"og:site_name": 2, "application-name": 2, "feed": 1, "title": 0}
MAX_NAME_CHARS = 120


def strength(source: str | None) -> int:
    """How much a name from ``source`` is to be trusted over another (higher: more)."""
    return _STRENGTH.get(source or "", -1)


class SiteRecord(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    kind: str | None = None  # complaintwatch.models.SiteKind value of the spider that crawled it
    source: NameSource = "title"

    def replaces(self, old: SiteRecord | None) -> bool:
        """Whether this record should be stored over ``old``: a name from the site's own
        markup is never replaced by one guessed from a page title; otherwise the newer wins."""
        if old is None:
            return True
        if self == old:
            return False
        return strength(self.source) >= strength(old.source)
