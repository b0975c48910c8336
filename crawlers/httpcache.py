"""HTTP cache policy for re-crawls: revalidate unless the server said otherwise.

Scrapy's RFC2616Policy, like browsers, treats a response without an explicit
lifetime (no Cache-Control max-age, no Expires) as fresh for a tenth of its
age since Last-Modified. For a complaint thread last modified two years ago
that is ~73 days in which a re-crawl reads the cached copy without asking the
server, and misses the new comments and the company's reply. Here such a
response is fresh for at most HTTPCACHE_HEURISTIC_MAX_AGE seconds (default
0: always revalidate), so an unchanged page costs one conditional request
answered by an empty 304 (ETag/If-None-Match, Last-Modified/If-Modified-Since)
and a changed one is downloaded. Explicit max-age/Expires are still obeyed.
"""

from __future__ import annotations

from typing import Any

from scrapy.extensions.httpcache import RFC2616Policy
from scrapy.http import Request, Response


class RevalidatingPolicy(RFC2616Policy):
    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.heuristic_max_age = settings.getfloat("HTTPCACHE_HEURISTIC_MAX_AGE", 0.0)

    def _compute_freshness_lifetime(self, response: Response, request: Request, now: float) -> float:
        lifetime = super()._compute_freshness_lifetime(response, request, now)
        explicit = b"max-age" in self._parse_cachecontrol(response) or b"Expires" in response.headers
        if explicit or response.status in {300, 301, 308}:
            return lifetime
        return min(lifetime, self.heuristic_max_age)
