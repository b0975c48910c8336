"""Sites by the name they give themselves (issue 13): the crawl keeps each host's
name and kind in the store's app state (complaintwatch/sites.py); pages and the
API show the name (the host stays in links, filters and as a tooltip), and the
host itself where no name is known."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from complaintwatch.sites import SITE_STATE, SiteRecord

from .aggregates import cached
from .safetext import strip_bidi
from .services import store

log = logging.getLogger(__name__)

KIND_LABELS = {"forum": "forum", "blog": "blog", "review": "review site", "social": "social network"}


@dataclass(frozen=True, slots=True)
class SiteInfo:
    host: str
    name: str | None = None
    kind: str | None = None  # complaintwatch.models.SiteKind value

    @property
    def label(self) -> str:
        """The name, or the host while none is known."""
        return self.name or self.host

    @property
    def kind_label(self) -> str | None:
        return KIND_LABELS.get(self.kind or "")


def _load() -> dict[str, SiteInfo]:
    out: dict[str, SiteInfo] = {}
    try:
        rows = store().state_list(SITE_STATE)
    except Exception:  # names are a nicety: a store without app state shows hosts
        log.warning("site names not read from the store", exc_info=True)
        return out
    for host, doc in rows:
        try:
            rec = SiteRecord.model_validate(doc)
        except ValueError:
            continue
        out[host] = SiteInfo(host, strip_bidi(rec.name).strip() or None, rec.kind)
    return out


def sites() -> dict[str, SiteInfo]:
    """Every named site by host (one read per change of the store)."""
    return cached("site_names", _load)


def site_info(host: str, kind: str | None = None) -> SiteInfo:
    """What is known of ``host``; ``kind``: the post's own site kind, when the crawl stored none."""
    info = sites().get(host)
    if info is None:
        return SiteInfo(host, None, kind)
    return info if info.kind or not kind else SiteInfo(host, info.name, kind)


def site_name(host: str) -> str | None:
    info = sites().get(host)
    return info.name if info else None


def site_label(host: str) -> str:
    return site_info(host).label
