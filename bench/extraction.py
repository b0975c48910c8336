"""Extraction quality of the real spiders on the saved pages with hand-counted truth.

    python bench/extraction.py [--exclude-holdout] [--only SUBSTRING] [--rules-only] [-v]

Every page of ../shared/pages that has an entry in ../shared/pages/truth.json
is served on 127.0.0.1 and crawled through the real spider a user would pick
for it (`complaintwatch crawl blog|forum|reviews|reddit URL`: blog for blogs,
news articles and feeds, forum for forums and Q&A, reviews for review sites,
reddit for Reddit), in a child process per spider (Twisted's reactor cannot be
restarted). Each crawl runs twice: with the engine-specific rules on (the
default) and with them switched off (spider argument ``rules=off``: the
generic extractor alone, crawlers/extraction/generic.py).

Per page and in total it prints: posts found / expected; of the expected posts,
how many were found with the author exact, the date exact (to the precision
the truth gives: a date, minutes or seconds; with the instant compared when the
truth has an offset, the wall-clock time when it has none), both, and the text
starting with the hand-copied first words (compared word by word, case and
punctuation ignored); and whether the thread title is exact. Found posts are
paired with expected ones in page order (an alignment that prefers the same
first words, then the same author and date), so one missed post does not shift
every later comparison.

The last line reads ``extraction: rules R generic G zero-pages Z``: R and G
the fraction of expected posts found with author and date exact (rules on /
generic alone), Z the number of pages where nothing was found with rules on.

``--exclude-holdout`` leaves out the four pages kept back for the final
measurement (development runs use it; the final run does not). With them in,
the development pages' and the hold-out pages' figures are printed apart too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.crawl_helpers import SHARED_PAGES, TEST_SETTINGS, serve_directory  # noqa: E402

HOLDOUT = frozenset(
    {
        "blog_typepad__en__webinknow_facebookjacking_comments.html",
        "forum_smf2__en__simplemachines_smf-2015-released_httrack.html",
        "news_mk__ru__orenburg-officials-cars_2020.html",
        "forum_pnphpbb2__en__myeclipse_support_oracle-jboss_2003.html",
    }
)

# File-name prefix -> the spider a user would run on such a URL.
SPIDERS = (
    ("blog_", "blog"),
    ("news_", "blog"),
    ("feed_", "blog"),
    ("forum_", "forum"),
    ("qa_", "forum"),
    ("review_", "reviews"),
    ("reddit_", "reddit"),
    ("pikabu_", "pikabu"),
)
SPIDER_CLASSES = {
    "blog": "crawlers.spiders.blog:BlogSpider",
    "forum": "crawlers.spiders.forum:ForumSpider",
    "reviews": "crawlers.spiders.reviews:ReviewsSpider",
    "reddit": "crawlers.spiders.reddit:RedditSpider",
    "pikabu": "crawlers.spiders.pikabu:PikabuSpider",
}


def spider_for(name: str) -> str:
    return next((s for prefix, s in SPIDERS if name.startswith(prefix)), "blog")


# --- the crawl (child process) ------------------------------------------------


def _child(payload: dict[str, Any]) -> None:
    """Crawl payload["start_urls"] with one spider; write one JSON line per item
    with the URL of the response it came from (items of several pages in one
    crawl are told apart by that)."""
    import importlib

    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from crawlers.extraction.dates import parse_published

    module, qualname = payload["spider"].split(":")
    spider_cls = getattr(importlib.import_module(module), qualname)
    process = CrawlerProcess({**TEST_SETTINGS, "LOG_LEVEL": "WARNING"})
    crawler = process.create_crawler(spider_cls)
    out = open(payload["items"], "w", encoding="utf-8")  # noqa: SIM115 - closed after the crawl

    def on_item(item: Any, response: Any, spider: Any) -> None:
        row = dataclasses.asdict(item)
        published = row.get("published")
        if not isinstance(published, datetime):  # what the date pipeline does with a raw string
            published = parse_published(published, languages=[item.language] if item.language else None)
        row["published"] = published.isoformat() if published else None
        row["_response"] = response.url
        out.write(json.dumps(row, ensure_ascii=False) + "\n")

    crawler.signals.connect(on_item, signal=signals.item_scraped)
    process.crawl(crawler, start_urls=payload["start_urls"], **payload["kwargs"])
    process.start()
    out.close()


def crawl(spider: str, urls: list[str], kwargs: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
    with tempfile.TemporaryDirectory() as tmp:
        payload = {"spider": SPIDER_CLASSES[spider], "start_urls": urls, "kwargs": kwargs, "items": f"{tmp}/i.jsonl"}
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(payload)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"crawl failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        rows = [json.loads(ln) for ln in Path(payload["items"]).read_text(encoding="utf-8").splitlines() if ln]
    return rows, proc.stderr


# --- comparison ---------------------------------------------------------------

_WORD = re.compile(r"\w+")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "ё": "е", "Ё": "Е"})


def words(text: str | None) -> list[str]:
    return _WORD.findall((text or "").translate(_QUOTES).lower())


def text_starts(text: str | None, first_words: str | None) -> bool:
    want = words(first_words)
    return bool(want) and words(text)[: len(want)] == want


def norm(value: str | None) -> str:
    return " ".join((value or "").split())


def author_ok(found: str | None, truth: str | None) -> bool:
    return norm(found) == norm(truth)


def _truth_date(raw: str) -> tuple[datetime, int, bool]:
    """(datetime, precision, has offset): precision 3 = date, 5 = minutes, 6 = seconds."""
    raw = raw.replace("Z", "+00:00")
    dt = datetime.fromisoformat(raw)
    body = re.split(r"[+-]\d{2}:\d{2}$", raw)[0]
    precision = 3 if "T" not in body else (6 if body.count(":") >= 2 else 5)
    return dt, precision, dt.tzinfo is not None


def date_ok(found: str | None, truth: str | None) -> bool:
    if truth is None:
        return found is None
    if found is None:
        return False
    want, precision, aware = _truth_date(truth)
    got = datetime.fromisoformat(found)
    if aware:  # the same instant
        if got.tzinfo is None:
            got = got.replace(tzinfo=timezone.utc)
        got = got.astimezone(want.tzinfo)
    fields = ("year", "month", "day", "hour", "minute", "second")[:precision]
    return all(getattr(got, f) == getattr(want, f) for f in fields)


def align(expected: list[dict[str, Any]], found: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """For each expected post, the found item paired with it (or None): an
    order-preserving alignment maximising first-words, author and date matches."""
    n, m = len(expected), len(found)

    def score(e: dict[str, Any], f: dict[str, Any]) -> int:
        s = 4 * text_starts(f.get("text"), e.get("first_words"))
        s += author_ok(f.get("author"), e.get("author")) + date_ok(f.get("published"), e.get("published"))
        return s if s >= 2 else 0

    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            s = score(expected[i], found[j])
            best = max(table[i + 1][j], table[i][j + 1])
            if s:
                best = max(best, s + table[i + 1][j + 1])
            table[i][j] = best
    pairs: list[dict[str, Any] | None] = [None] * n
    i = j = 0
    while i < n and j < m:
        s = score(expected[i], found[j])
        if s and table[i][j] == s + table[i + 1][j + 1]:
            pairs[i] = found[j]
            i, j = i + 1, j + 1
        elif table[i][j] == table[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


@dataclasses.dataclass
class Score:
    found: int = 0
    expected: int = 0
    author: int = 0
    date: int = 0
    both: int = 0
    text: int = 0
    title: int = 0
    pages: int = 0

    def add(self, other: Score) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def score_page(truth: dict[str, Any], items: list[dict[str, Any]], verbose: bool = False) -> Score:
    expected = truth["posts"]
    pairs = align(expected, items)
    s = Score(found=len(items), expected=len(expected), pages=1)
    for e, f in zip(expected, pairs, strict=True):
        if f is None:
            if verbose:
                print(f"      MISSING {e.get('author')!r} {e.get('published')} {e.get('first_words', '')[:40]!r}")
            continue
        a = author_ok(f.get("author"), e.get("author"))
        d = date_ok(f.get("published"), e.get("published"))
        t = text_starts(f.get("text"), e.get("first_words"))
        s.author += a
        s.date += d
        s.both += a and d
        s.text += t
        if verbose and not (a and d and t):
            print(
                f"      {'' if a else 'AUTHOR '}{'' if d else 'DATE '}{'' if t else 'TEXT '}"
                f"want {e.get('author')!r} {e.get('published')} {e.get('first_words', '')[:40]!r}"
                f" | got {f.get('author')!r} {f.get('published')} {norm(f.get('text'))[:50]!r}"
            )
    title = items[0].get("title") if items else None
    s.title = int(items != [] and norm(title) == norm(truth.get("title")))
    if verbose and items and not s.title:
        print(f"      TITLE want {truth.get('title')!r} got {title!r}")
    return s


def fmt(s: Score) -> str:
    return (
        f"posts {s.found:4d}/{s.expected:<4d} author {s.author:4d} date {s.date:4d} both {s.both:4d}"
        f" text {s.text:4d} title {s.title}/{s.pages}"
    )


# --- main -----------------------------------------------------------------------


def run_mode(pages: list[dict[str, Any]], base: str, kwargs: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    by_spider: dict[str, list[str]] = {}
    for page in pages:
        by_spider.setdefault(spider_for(page["file"]), []).append(page["file"])
    found: dict[str, list[dict[str, Any]]] = {p["file"]: [] for p in pages}
    for spider, files in by_spider.items():
        rows, log = crawl(spider, [f"{base}/{f}" for f in files], kwargs)
        for line in log.splitlines():
            if "ERROR" in line or "parse failed" in line or "Traceback" in line:
                print(f"   [{spider}] {line[:300]}")
        for row in rows:
            response_file = row["_response"].rsplit("/", 1)[-1].split("?")[0].split("#")[0]
            if response_file in found:
                found[response_file].append(row)
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--exclude-holdout", action="store_true", help="leave out the four hold-out pages")
    ap.add_argument("--only", default="", help="only pages whose file name contains this")
    ap.add_argument("--rules-only", action="store_true", help="skip the generic-alone run")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every mismatch")
    args = ap.parse_args()

    truth = json.loads((SHARED_PAGES / "truth.json").read_text(encoding="utf-8"))
    pages = [p for p in truth if args.only in p["file"] and not (args.exclude_holdout and p["file"] in HOLDOUT)]
    modes = [("rules", {})] + ([] if args.rules_only else [("generic", {"rules": "off"})])
    totals: dict[str, Score] = {}
    zero: dict[str, int] = {}
    started = time.monotonic()
    with serve_directory(SHARED_PAGES) as base:
        results = {mode: run_mode(pages, base, kwargs) for mode, kwargs in modes}
    for mode, _ in modes:
        print(f"== {mode}: {'engine rules on' if mode == 'rules' else 'engine rules off (generic extractor alone)'}")
        total, parts = Score(), {"dev": Score(), "holdout": Score()}
        zero[mode] = 0
        for page in pages:
            items = results[mode][page["file"]]
            s = score_page(page, items, args.verbose)
            zero[mode] += not items
            total.add(s)
            parts["holdout" if page["file"] in HOLDOUT else "dev"].add(s)
            print(f"  {page['file'][:64]:64s} {fmt(s)}")
        totals[mode] = total
        for name, part in parts.items():  # development pages and the hold-out ones apart
            if part.pages and part.pages != total.pages:
                share = part.both / part.expected if part.expected else 0.0
                print(f"  {name + f' ({part.pages} pages)':64s} {fmt(part)}  author+date {share:.3f}")
        frac = total.both / total.expected if total.expected else 0.0
        print(f"  {'TOTAL':64s} {fmt(total)}  author+date {frac:.3f}  zero-pages {zero[mode]}")
    print(f"({len(pages)} pages, {time.monotonic() - started:.0f} s)")
    r = totals["rules"].both / totals["rules"].expected if totals["rules"].expected else 0.0
    g = (
        totals["generic"].both / totals["generic"].expected
        if "generic" in totals and totals["generic"].expected
        else float("nan")
    )
    print(f"extraction: rules {r:.3f} generic {g:.3f} zero-pages {zero['rules']}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(json.loads(sys.argv[2]))
    else:
        main()
