"""The ground-truth manifest: what a correct crawl of the demo sites must find."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

TRUTH_FILE = "truth.json"


@dataclass(frozen=True, slots=True)
class TruthPost:
    """One root post, comment, forum reply, review or company reply.

    path is relative to the site's base URL. Root posts are their page URL
    ("/2023/03/12/slug/", "/threads/slug.2345/", "/reviews/<id>"); comments
    and replies are the thread URL plus the element's anchor, whatever page
    of the thread shows them ("/2023/03/12/slug/#comment-24051",
    "/threads/slug.2345/#post-40123", "/reviews/<id>#reply") - the stable
    identity the spiders emit. page_path says which page actually shows it
    ("/threads/slug.2345/page-2"). Compare after models.canonical_url(), which
    drops the trailing slash before the "#".
    """

    site: str  # blog | forum | reviews
    kind: str  # blog | forum | review (models.SiteKind values)
    path: str
    page_path: str  # the page the element is rendered on
    thread_path: str  # the root post's path
    parent_path: str | None  # what it answers (root or another comment); None for roots
    position: int  # 0 = root, then 1.. in page order
    anchor: str | None  # DOM id of the element ("comment-5012", "post-40123", ...)
    companies: tuple[str, ...]  # company ids the thread is about (comments inherit the root's)
    incident: str | None  # taxonomy key for complaint roots; None for noise and comments
    language: str  # "ru" | "en"
    published: str  # timezone-aware ISO 8601
    author: str  # display name as shown on the page
    is_company_reply: bool
    title: str  # root title; comments carry their thread's title
    text: str  # visible text, paragraphs joined by blank lines (forum quotes excluded)
    rating: int | None = None  # reviews only

    @property
    def is_root(self) -> bool:
        return self.parent_path is None


def save_truth(path: Path, posts: list[TruthPost]) -> None:
    data = [asdict(p) for p in posts]
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
        fh.write("\n")


def load_truth(path: Path) -> list[TruthPost]:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return [TruthPost(**{**d, "companies": tuple(d["companies"])}) for d in data]
