"""The sources file: what `complaintwatch run` crawls, how often and how hard.

    # <state_dir>/sources.toml (setting `sources_file`)
    [defaults]              # optional: applies to every source below
    every = "6h"
    delay = 2.0

    [[source]]
    kind = "forum"          # feed, blog, forum, reviews, subreddit, pikabu, vcru
    url = "https://forum.example/forums/banks.12/"
    every = "30m"           # or: cron = "15 */6 * * *" (UTC)
    max_pages = 200         # pages per crawl of this site
    max_posts = 1000        # stop the crawl after this many posts
    delay = 1.5             # seconds between requests to the site
    concurrency = 1         # requests in flight to the site
    company = "ozon"        # optional: who the source is about

Every problem is reported at once, each naming the entry (its number in the
file and its URL) and the field, so `complaintwatch sources check` is a
one-pass fix. Discovery (crawlers/discovery.py) appends entries with tomlkit,
which keeps the file's comments and layout.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

SOURCES_FILE = "sources.toml"
DEFAULT_EVERY = "6h"
MIN_INTERVAL = timedelta(minutes=1)

# source kind -> spider (crawlers/spiders). Several kinds share a spider: the
# blog spider reads feeds as well as blog pages.
KINDS: dict[str, str] = {
    "feed": "blog",
    "blog": "blog",
    "forum": "forum",
    "reviews": "reviews",
    "subreddit": "reddit",
    "pikabu": "pikabu",
    "vcru": "vcru",
}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
UTC = timezone.utc


def parse_duration(text: str) -> timedelta:
    """ "30m", "6h", "1d", "1h30m" -> timedelta; ValueError says what is accepted."""
    raw = str(text).strip().lower().replace(" ", "")
    parts = _DURATION.findall(raw)
    if not raw or "".join(n + u for n, u in parts) != raw:
        raise ValueError(f"{text!r} is not a duration like 30m, 6h, 1d or 1h30m")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


def format_duration(td: timedelta) -> str:
    secs, out = int(td.total_seconds()), []
    for unit in "dhms":
        n, secs = divmod(secs, _UNITS[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out) or "0s"


def cron_trigger(expr: str):
    """A five-field crontab line (minute hour day month weekday, UTC) as an
    APScheduler trigger; ValueError names the bad field."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(expr, timezone=UTC)


class Limits(BaseModel):
    """Per-site limits and the schedule; also the shape of [defaults]."""

    model_config = ConfigDict(extra="forbid")

    every: str | None = None
    cron: str | None = None
    max_pages: int | None = Field(default=None, ge=0, description="pages per crawl (0: no limit)")
    max_posts: int | None = Field(default=None, ge=0, description="posts per crawl (0: no limit)")
    delay: float | None = Field(default=None, ge=0, le=600, description="seconds between requests")
    concurrency: int | None = Field(default=None, ge=1, le=16, description="requests in flight to the site")
    timeout: str | None = None  # the longest one crawl may run ("2h"); default: setting crawl_timeout

    @field_validator("every", "timeout")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None and parse_duration(v) < MIN_INTERVAL:
            raise ValueError(f"{v!r} is shorter than {format_duration(MIN_INTERVAL)}")
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            cron_trigger(v)
        return v


class Source(Limits):
    kind: str
    url: str
    company: str | None = None
    name: str | None = None
    enabled: bool = True
    # set by discovery: the configured source this search URL was found for
    discovered_from: str | None = None

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"unknown kind {v!r}; known kinds: {', '.join(KINDS)}")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip()
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{v!r} is not an http(s) URL with a host")
        return v

    @model_validator(mode="after")
    def _schedule(self) -> Source:
        if self.every is not None and self.cron is not None:
            raise ValueError("give either every or cron, not both")
        if self.every is None and self.cron is None:
            self.every = DEFAULT_EVERY
        return self

    @property
    def spider(self) -> str:
        return KINDS[self.kind]

    @cached_property
    def key(self) -> str:
        """Stable id of the run state: the spider and URL (kind renames between
        feed and blog, schedule or limit changes keep the history)."""
        return hashlib.sha256(f"{self.spider} {self.url}".encode()).hexdigest()[:16]

    @property
    def site(self) -> str:
        """host:port: one crawl at a time per site."""
        parts = urlsplit(self.url)
        return parts.netloc.lower().rsplit("@", 1)[-1]

    @property
    def schedule(self) -> str:
        return f"every {self.every}" if self.every else f"cron {self.cron} (UTC)"

    def next_due(self, last_started: datetime | None) -> datetime | None:
        """When the source is due after a run that started at `last_started`;
        None (never run) means due now. An overdue source is due once: the
        next time comes from the last run, not from the missed ones."""
        if last_started is None:
            return None
        if self.every:
            return last_started + parse_duration(self.every)
        assert self.cron is not None  # _schedule: every or cron is set
        return cron_trigger(self.cron).get_next_fire_time(None, last_started + timedelta(seconds=1))


class SourcesError(ValueError):
    """Everything wrong with a sources file, one line per problem."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(f"{self.path}: {p}" for p in problems))


def _field_help(loc: tuple, err: ErrorDetails, allowed: set[str]) -> tuple[str, str]:
    field = ".".join(str(x) for x in loc)
    if err["type"] == "extra_forbidden":
        close = difflib.get_close_matches(field, sorted(allowed), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known fields: {', '.join(sorted(allowed))}"
        return field, "unknown field" + hint
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        msg = "required, missing"
    return field, msg


def _entry_name(index: int, raw: Any) -> str:
    url = raw.get("url") if isinstance(raw, dict) else None
    return f"source {index}" + (f" ({url})" if isinstance(url, str) else " (no url)")


def parse_sources(text: str, path: Path | str = SOURCES_FILE) -> list[Source]:
    """Validate the file's text; raise SourcesError listing every problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(path, [f"not valid TOML: {exc}"]) from None
    problems: list[str] = []
    for key in sorted(set(doc) - {"defaults", "source"}):
        problems.append(f"unknown table {key!r}: the file has [defaults] and [[source]] entries")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        problems.append("[defaults] must be a table")
        defaults = {}
    else:
        try:
            Limits.model_validate(defaults)
            if "every" in defaults and "cron" in defaults:
                problems.append("[defaults]: give either every or cron, not both")
        except ValidationError as exc:
            for err in exc.errors():
                field, msg = _field_help(err["loc"], err, set(Limits.model_fields))
                problems.append(f"[defaults]: {field}: {msg}")
            defaults = {}
    entries = doc.get("source", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        problems.append("sources must be [[source]] tables (an array of tables)")
        entries = []
    sources: list[Source] = []
    seen: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(entries, 1):
        merged = {**{k: v for k, v in defaults.items() if v is not None}, **raw}
        if "cron" in raw and "every" not in raw:
            merged.pop("every", None)  # an entry's own cron replaces the default interval
        if "every" in raw and "cron" not in raw:
            merged.pop("cron", None)
        try:
            src = Source.model_validate(merged)
        except ValidationError as exc:
            for err in exc.errors():
                field, msg = _field_help(err["loc"], err, set(Source.model_fields))
                problems.append(f"{_entry_name(i, raw)}: " + (f"{field}: {msg}" if field else msg))
            continue
        ident = (src.spider, src.url)
        if ident in seen:
            problems.append(f"{_entry_name(i, raw)}: the same {src.spider} URL as source {seen[ident]}")
            continue
        seen[ident] = i
        sources.append(src)
    if problems:
        raise SourcesError(path, problems)
    return sources


def load_sources(path: Path | str) -> list[Source]:
    """The file's sources; a missing file is no sources (a fresh install)."""
    p = Path(path)
    if not p.exists():
        return []
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourcesError(p, [f"cannot read: {exc}"]) from None
    return parse_sources(text, p)


def sources_path(settings: Any = None) -> Path:
    """Setting `sources_file`, else <state_dir>/sources.toml."""
    if settings is None:
        from .config import load_settings

        settings = load_settings()
    explicit = getattr(settings, "sources_file", None)
    return Path(explicit) if explicit else Path(settings.state_dir) / SOURCES_FILE


def append_sources(path: Path | str, new: list[Source], comment: str | None = None) -> list[Source]:
    """Add entries to the file (created when missing), keeping what is there,
    comments included. Entries whose spider and URL are already listed are
    left out. Returns what was added; the result is validated before it is
    written, so a bad entry never lands in the file."""
    import tomlkit

    p = Path(path)
    text = p.read_text(encoding="utf-8") if p.exists() else ""
    existing = parse_sources(text, p) if text.strip() else []
    have = {(s.spider, s.url) for s in existing}
    doc = tomlkit.parse(text) if text.strip() else tomlkit.document()
    table = doc.get("source")
    if table is None:
        table = tomlkit.aot()
        doc.append("source", table)
    added: list[Source] = []
    for src in new:
        if (src.spider, src.url) in have:
            continue
        have.add((src.spider, src.url))
        item = tomlkit.table()
        if comment and not added:
            item.comment(comment)
        # the schedule is written out too: the file's [defaults] must not change a discovered entry's
        for k, v in src.model_dump(exclude_none=True, exclude_defaults=True).items():
            item[k] = v
        table.append(item)
        added.append(src)
    if added:
        out = tomlkit.dumps(doc)
        parse_sources(out, p)  # never write a file that does not load
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(out, encoding="utf-8")
        tmp.replace(p)
    return added
