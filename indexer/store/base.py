"""The store every backend implements: the composition of its roles
(roles.py), the rules that span roles, and the takedown list's URL rules.

Consumers name the role they use (roles.PostStore, SearchStore,
AnalyticsStore, AppStateStore); `Store` is for what needs them all (opening a
store, the web app, the CLI). Every name importable from here before the
split (records, facet and takedown helpers) still is."""

from __future__ import annotations

import abc
import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from complaintwatch.models import Incident, Post, SearchFilters, canonical_url

from .appstate import AppState
from .roles import AnalyticsStore, AppStateStore, PostStore, SearchStore
from .types import (
    FACET_FIELDS,
    MAX_SAME_STORY,
    CompanyCounts,
    ComplaintReply,
    ComplaintSummary,
    FacetCount,
    FacetCounts,
    FacetValue,
    IncidentStat,
    UpsertResult,
    facet_filters,
    facet_from_parts,
    rank_company_counts,
    stored_id,
    summarise_complaints,
)

__all__ = [
    "FACET_FIELDS",
    "MAX_SAME_STORY",
    "AnalyticsStore",
    "AppState",
    "AppStateStore",
    "CompanyCounts",
    "ComplaintReply",
    "ComplaintSummary",
    "FacetCount",
    "FacetCounts",
    "FacetValue",
    "IncidentStat",
    "PostStore",
    "SearchStore",
    "Store",
    "TakedownMatcher",
    "UpsertResult",
    "facet_filters",
    "facet_from_parts",
    "is_taken_down",
    "rank_company_counts",
    "stored_id",
    "summarise_complaints",
    "takedown_key",
    "takedown_match_key",
]

log = logging.getLogger(__name__)


class Store(PostStore, SearchStore, AnalyticsStore, AppStateStore, abc.ABC):
    """Every role of a store, as each backend implements them (sqlite/, es);
    plus integrity checks, closing, and the definitions that span roles."""

    @abc.abstractmethod
    def check(self) -> list[str]:
        """Integrity problems found (empty list = healthy)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- definitions over more than one role (the backends answer with one aggregation) --
    def company_counts(self) -> list[CompanyCounts]:
        """AnalyticsStore.company_counts, by its per-post definition."""
        counts: dict[str, CompanyCounts] = {}
        for p in self.iter_posts():
            for c in dict.fromkeys(p.companies):
                counts.setdefault(c, CompanyCounts(c)).add(p)
        return rank_company_counts(counts.values())

    def company_stance_counts(self, company: str) -> dict[str, int]:
        """AnalyticsStore.company_stance_counts, as count_latest counts it."""
        from ..stance import STANCES

        return {st: self.count_latest(SearchFilters(company=company, stance=st)) for st in STANCES}

    # -- what a takedown leaves behind in derived data --
    def _write_incidents(self, incidents: list[Incident], drop: list[int]) -> None:
        """Rewrite these incident types in place (labels, keywords, size,
        representatives) and delete the ``drop`` ones; assignments untouched."""
        raise NotImplementedError

    def scrub_incidents_after_takedown(self, removed: list[Post]) -> int:
        """After ``removed`` were deleted: every incident type they were a
        member or a representative of, or whose keywords they share, gets its
        size, representatives and keywords recomputed without them. A keyword
        taken from their text stays only while at least two remaining members
        (one, for a type of one post) still use it, as ctfidf_keywords requires
        when it picks keywords; a label made of such a word is rebuilt. A type
        left without posts is deleted. Returns how many types changed."""
        if not removed:
            return 0
        from ..clustering.represent import _CYRILLIC, _LATIN, _term, _terms, keyword_label

        removed_ids = {p.id for p in removed}
        members_gone = {p.incident_id for p in removed if p.incident_id is not None}
        tainted: set[str] = set()
        for p in removed:
            tainted.update(_terms(f"{p.title}. {p.text}" if p.title else p.text))
        changed: list[Incident] = []
        drop: list[int] = []
        for inc in self.incidents():
            bad = [w for w in inc.keywords if (t := _term(w)) is not None and t[0] in tainted]
            if not (inc.id in members_gone or set(inc.representatives) & removed_ids or bad):
                continue
            size = self.count_latest(SearchFilters(incident_id=inc.id))
            if size == 0 and inc.id in members_gone:
                drop.append(inc.id)
                continue
            still = {w: self.search_text(f'"{w}"', SearchFilters(incident_id=inc.id), limit=1)[1] for w in bad}
            dropped = [w for w in bad if still[w] < min(2, size)]
            inc.keywords = [w for w in inc.keywords if w not in dropped]
            for w in dropped:  # a taxonomy label told apart by a keyword: "Refund refused (word)"
                inc.label_en = inc.label_en.replace(f" ({w})", "")
                inc.label_ru = inc.label_ru.replace(f" ({w})", "")
            if any(w in f"{inc.label_en} {inc.label_ru}".lower() for w in dropped):
                inc.label_en = keyword_label(inc.keywords, _LATIN) or "Unlabelled incident type"
                inc.label_ru = keyword_label(inc.keywords, _CYRILLIC) or "Тип инцидента без названия"
            want = max(len(inc.representatives), 1)
            reps = [r for r in inc.representatives if r not in removed_ids]
            if len(reps) < want:  # topped up with remaining opening posts; the next `index` picks by centroid
                extra = self.latest_posts(SearchFilters(incident_id=inc.id, include_comments=False), limit=want * 2)
                reps += [stored_id(p) for p in extra if p.id not in reps][: want - len(reps)]
            inc.representatives, inc.size = reps, size
            changed.append(inc)
        if changed or drop:
            self._write_incidents(changed, drop)
            log.info("takedown: %d incident types recomputed, %d deleted", len(changed), len(drop))
        return len(changed) + len(drop)


# Query parameters that change how a page is shown, not which post it is:
# sorting, printing, highlighting, session ids, pagination of one thread.
_PRESENTATION_PARAMS = re.compile(
    r"^(sort|sort_?by|sort_?order|order|order_?by|dir|direction|view|print|printable|highlight|hl|amp|"
    r"replytocom|share|mobile|tab|theme|sid|phpsessid|sessionid|jsessionid|s_id|page|start|cpage|offset|"
    r"comments?_page|limit|per_?page|st|postdays|postorder|showall|nocache|_)$",
    re.I,
)
# the directory's default document: "/a/index.html" is "/a"
_INDEX_FILE = re.compile(r"/(index|default)\.(html?|shtml|php\d?|aspx?|jsp)$", re.I)
_DIGIT = re.compile(r"\d")


def takedown_key(url: str) -> str:
    """How a URL sits on the takedown list: canonical (canonical_url), without
    query parameters that only change the presentation (``?sort=1``,
    ``&page=2`` of the same thread), a trailing ``index.html`` and a fragment
    that addresses no post or comment (``#comments``; ``#c9``/``#comment-5``
    stay: they have a number)."""
    parts = urlsplit(canonical_url(url))
    path = _INDEX_FILE.sub("", parts.path).rstrip("/") or "/"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _PRESENTATION_PARAMS.match(k)]
    )
    fragment = parts.fragment if _DIGIT.search(parts.fragment) else ""
    return urlunsplit((parts.scheme, parts.netloc, path, query, fragment))


def _bare_host(netloc: str) -> str:
    return netloc[4:] if netloc.startswith("www.") else netloc


def takedown_match_key(url: str) -> str:
    """takedown_key without what never tells two posts apart: http/https and a leading www."""
    parts = urlsplit(takedown_key(url))
    return urlunsplit(("", _bare_host(parts.netloc), parts.path, parts.query, parts.fragment))


class TakedownMatcher:
    """Does a URL (of a post, its thread or its parent) fall under the list?
    A listed URL covers every variant of itself (takedown_match_key) and,
    without a fragment, everything on its page (``#c1``, ``?page=2#p5``)."""

    def __init__(self, listed: Iterable[str]):
        self.keys = {takedown_match_key(u) for u in listed if u and u.strip()}
        self.hosts = {urlsplit(k).netloc for k in self.keys}

    def __bool__(self) -> bool:
        return bool(self.keys)

    def __call__(self, url: str | None) -> bool:
        if not url or not self.keys or not any(h in url.lower() for h in self.hosts):
            return False
        key = takedown_match_key(url)
        return key in self.keys or key.split("#", 1)[0] in self.keys

    def any(self, *urls: str | None) -> bool:
        return any(self(u) for u in urls)


def is_taken_down(url: str | None, listed: set[str] | frozenset[str]) -> bool:
    """True when ``url``, any variant of it, or the page it is on (without
    #fragment), is listed; ``listed``: Store.takedowns() (takedown_key form)."""
    if not url or not listed:
        return False
    parts = urlsplit(takedown_key(url))
    host = _bare_host(parts.netloc)
    for scheme in ("https", "http"):
        for netloc in (host, "www." + host):
            key = urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))
            if key in listed or key.split("#", 1)[0] in listed:
                return True
    return False
