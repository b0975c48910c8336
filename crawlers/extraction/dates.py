"""Turn whatever a page shows as a date into a timezone-aware datetime."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dateparser
import htmldate

log = logging.getLogger(__name__)

# Anything earlier is a parsing accident (epoch 0, "01.01.1970", a join date of
# a pre-web BBS): complaint posts start with the commercial web.
MIN_DATE = datetime(1995, 1, 1, tzinfo=timezone.utc)
# Clock skew and time zones allow a little future; more means a mis-parse.
MAX_FUTURE = timedelta(days=2)

_EPOCH = re.compile(r"^\d{9,13}(\.\d+)?$")
# dateparser knows "3 years ago" but not Reddit's abbreviated "3 yr. ago".
_REDDIT_AGO = re.compile(r"^(\d+)\s*(yr|mo|hr|min|sec)s?\.?\s+ago$", re.I)
_UNITS = {"yr": "years", "mo": "months", "hr": "hours", "min": "minutes", "sec": "seconds"}


# What makes a shown date carry its own year ("2012", "23.07.12", "2012-07-23"),
# or be relative to the moment of the crawl ("today", "3 hours ago").
_HAS_YEAR = re.compile(r"(?<!\d)(?:1[89]|20)\d{2}(?!\d)|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|'\d{2}\b")
_RELATIVE = re.compile(
    r"\b(?:today|yesterday|now|ago|just|hours?|minutes?|mins?|seconds?|days?|weeks?|months?|years?)\b"
    r"|сегодня|вчера|назад|только что|heute|gestern|vorgestern|\bvor\b",
    re.I,
)
_WEEKDAYS = (
    ("monday", "понедельник", "montag", "mon", "пн"),
    ("tuesday", "вторник", "dienstag", "tue", "tues", "вт"),
    ("wednesday", "среда", "mittwoch", "wed", "ср"),
    ("thursday", "четверг", "donnerstag", "thu", "thur", "thurs", "чт"),
    ("friday", "пятница", "freitag", "fri", "пт"),
    ("saturday", "суббота", "samstag", "sat", "сб"),
    ("sunday", "воскресенье", "sonntag", "sun", "вс"),
)
_WORD = re.compile(r"[^\W\d_]+")


def _weekday(text: str) -> int | None:
    words = {w.lower() for w in _WORD.findall(text)}
    return next((i for i, names in enumerate(_WEEKDAYS) if words & set(names)), None)


def _with_year(dt: datetime, text: str, year: int) -> datetime:
    """A year-less shown date ("Monday July 23, @08:25PM") placed in `year`, or
    the year beside it where the weekday it names falls on that date."""
    weekday = _weekday(text)
    for candidate in (year, year - 1, year + 1):
        try:
            moved = dt.replace(year=candidate)
        except ValueError:  # 29 February
            continue
        if weekday is None or moved.weekday() == weekday:
            return moved
    try:
        return dt.replace(year=year)
    except ValueError:
        return dt


def year_less(text: str) -> bool:
    """Whether a shown absolute date leaves out its year."""
    if _HAS_YEAR.search(text) or _RELATIVE.search(text):
        return False
    return bool(re.search(r"\d", re.sub(r"\d{1,2}:\d{2}(?::\d{2})?", "", text)))  # a day, not just a time


_OFFSET_NAME = re.compile(r"^(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.I)


def _tz(name: str) -> timezone | ZoneInfo:
    if name.upper() in ("UTC", "GMT"):
        return timezone.utc
    if m := _OFFSET_NAME.match(name.strip()):  # "UTC-06:00", a page's stated offset
        delta = timedelta(hours=int(m[2]), minutes=int(m[3] or 0))
        return timezone(-delta if m[1] == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def _checked(dt: datetime, now: datetime, raw: object) -> datetime | None:
    if dt < MIN_DATE or dt > now + MAX_FUTURE:
        log.debug("date out of range, dropped: %r -> %s", raw, dt.isoformat())
        return None
    return dt


def from_timestamp(value: float) -> datetime:
    """Unix seconds, or milliseconds (Reddit's new UI mixes both)."""
    if value > 1e11:
        value /= 1000
    return datetime.fromtimestamp(value, tz=timezone.utc)


def _iso(raw: str, tz: timezone | ZoneInfo) -> datetime | None:
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=tz)


def parse_published(
    raw: str | float | datetime | None,
    languages: list[str] | None = None,
    default_tz: str = "UTC",
    now: datetime | None = None,
    year: int | None = None,
) -> datetime | None:
    """Parse ISO, Unix time or a human date ("27 декабря 2022", "Heute, 14:05",
    "3 yr. ago") into an aware datetime; None when unparseable or implausible
    (before 1995, more than two days ahead). A date shown without its year
    ("Monday July 23, @08:25PM") takes `year` (the page's own year, see
    :func:`page_year`) when given. Never raises."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    tz = _tz(default_tz)
    try:
        if raw is None or isinstance(raw, bool):
            return None
        if isinstance(raw, datetime):
            return _checked(raw if raw.tzinfo else raw.replace(tzinfo=tz), now, raw)
        if isinstance(raw, (int, float)):
            return _checked(from_timestamp(float(raw)), now, raw)
        text = " ".join(str(raw).replace("\xa0", " ").split())
        if not text:
            return None
        if _EPOCH.match(text):
            return _checked(from_timestamp(float(text)), now, raw)
        dt = _iso(text, tz)
        if dt is None:
            if m := _REDDIT_AGO.match(text):
                text = f"{m[1]} {_UNITS[m[2].lower()]} ago"
            settings = {
                "TIMEZONE": default_tz,
                "RETURN_AS_TIMEZONE_AWARE": True,
                "RELATIVE_BASE": now.astimezone(tz).replace(tzinfo=None),
                "PREFER_DATES_FROM": "past",
            }
            dt = dateparser.parse(text, languages=languages or None, settings=settings)
            if dt is None and languages and "en" not in languages:
                # pages in any language often show dates in an English UI's format
                dt = dateparser.parse(text, languages=["en"], settings=settings)
        if dt is None:
            log.debug("unparseable date: %r", raw)
            return None
        if year and year_less(text):
            dt = _with_year(dt, text, year)
        return _checked(dt, now, raw)
    except Exception as exc:  # dateparser raises on odd input; a date is never worth a crash
        log.debug("date parse error %r: %s", raw, exc)
        return None


# The time zone a forum states for the times it shows ("All times are GMT - 6
# Hours", "All times are UTC+02:00", "Alle Zeiten sind UTC+1", "Часовой пояс: GMT + 3").
_TZ_NOTICE = re.compile(
    r"(?:all times are|alle zeiten sind|alle zeitangaben in|часовой пояс\s*:?|все время\s*:?)\s*"
    r"(?:UTC|GMT|WEZ)(?:\s*([+\-−])\s*(\d{1,2})(?:[:.](\d{2})|\.5)?(?:\s*(?:hours?|stunden?|час\w*))?)?(?![\w+\-])",
    re.I,
)
_TAGS = re.compile(r"<[^>]*>")


def page_timezone(html: str) -> str | None:
    """The offset a page states for the times it shows, as a zone name
    parse_published takes ("UTC-06:00"); None when it states none."""
    m = _TZ_NOTICE.search(" ".join(_TAGS.sub(" ", html).split()))
    if not m:
        return None
    if not m[1]:
        return "UTC"
    minutes = int(m[3] or (30 if m[0].rstrip().endswith(".5") else 0))
    sign = "-" if m[1] in "-−" else "+"
    return f"UTC{sign}{int(m[2]):02d}:{minutes:02d}"


# A shown date that names its own zone or offset, or is relative to the crawl.
_SHOWN_ZONE = re.compile(r"[+-]\d{2}:?\d{2}\b|\b(?:UTC|GMT|Z)\b|\b[A-Z]{2,4}T\b")
_SHOWN_CLOCK = re.compile(r"\d{1,2}[:.]\d{2}")


def local_offset(instant: datetime, shown: str, parse: Any) -> datetime:
    """`instant` (exact, e.g. Unix time) in the offset the page's shown
    wall-clock time for it implies ("10:46 AM" beside 14:46:12Z -> -04:00):
    the page's time zone kept. Unchanged when the shown time names its own
    zone, is relative, has no time of day, or is not within 14 hours of it."""
    if _SHOWN_ZONE.search(shown) or _RELATIVE.search(shown) or not _SHOWN_CLOCK.search(shown):
        return instant
    wall = parse(shown)
    if not isinstance(wall, datetime):
        return instant
    diff = wall.replace(tzinfo=None) - instant.astimezone(timezone.utc).replace(tzinfo=None)
    quarter = round(diff / timedelta(minutes=15)) * timedelta(minutes=15)
    if not quarter or abs(quarter) > timedelta(hours=14) or abs(diff - quarter) > timedelta(minutes=2):
        return instant
    return instant.astimezone(timezone(quarter))


def page_date(html: str | bytes, url: str | None = None) -> datetime | None:
    """Publication date guessed by htmldate from the whole page (meta tags, URL,
    visible text); a last resort when the markup gives no date."""
    try:
        found = htmldate.find_date(
            html, url=url, original_date=True, outputformat="%Y-%m-%dT%H:%M:%S%z", extensive_search=True
        )
    except Exception as exc:
        log.debug("htmldate failed for %s: %s", url, exc)
        return None
    return parse_published(found) if found else None


_COPYRIGHT = re.compile(
    r"(?:©|&copy;|\(c\)|copyright)\s*(?:\(c\)\s*)?(?:(?:19|20)\d{2}\s*[-–—]\s*)?((?:19|20)\d{2})(?!\d)", re.I
)
_URL_YEAR = re.compile(r"/((?:19|20)\d{2})/(0?[1-9]|1[0-2])/")


def page_year(text: str, urls: tuple[str | None, ...] = (), published: datetime | None = None) -> int | None:
    """The year a page was written in, for the dates it shows without one: its
    article date, else a /YYYY/MM/ date in its URL or canonical URL, else its
    copyright line (the last year of a range; pages that drop the year show
    the current year's dates, and the footer names the current year)."""
    if published is not None:
        return published.year
    for url in urls:
        if url and (m := _URL_YEAR.search(url)):
            return int(m[1])
    years = [int(m[1]) for m in _COPYRIGHT.finditer(text)]
    return max(years) if years else None
