"""Small language helpers shared by the corpus and the renderers."""

from __future__ import annotations

import re
from datetime import datetime

_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip

RU_MONTHS_GEN = [
    "", "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
]  # fmt: skip
RU_MONTHS_SHORT = ["", "янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"]
EN_MONTHS = [
    "", "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip


def translit(text: str) -> str:
    out = []
    for ch in text:
        low = ch.lower()
        if low in _TRANSLIT:
            t = _TRANSLIT[low]
            out.append(t.capitalize() if ch != low and t else t)
        else:
            out.append(ch)
    return "".join(out)


def slugify(text: str, max_len: int = 60) -> str:
    """WordPress/XenForo-style ASCII slug: transliterated, lower case, hyphens."""
    slug = re.sub(r"[^a-z0-9]+", "-", translit(text).lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0]
    return slug or "post"


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    n10, n100 = n % 10, n % 100
    if n10 == 1 and n100 != 11:
        return one
    if 2 <= n10 <= 4 and not 12 <= n100 <= 14:
        return few
    return many


def group_digits(n: int, sep: str = " ") -> str:
    return f"{n:,}".replace(",", sep)


def human_date(dt: datetime, lang: str) -> str:
    """'12 марта 2023' / 'March 12, 2023'."""
    if lang == "ru":
        return f"{dt.day} {RU_MONTHS_GEN[dt.month]} {dt.year}"
    return f"{EN_MONTHS[dt.month]} {dt.day}, {dt.year}"


def human_datetime(dt: datetime, lang: str) -> str:
    """'12 марта 2023 в 14:05' / 'March 12, 2023 at 2:05 pm' (WordPress comment style)."""
    if lang == "ru":
        return f"{human_date(dt, lang)} в {dt:%H:%M}"
    hour = dt.hour % 12 or 12
    return f"{human_date(dt, lang)} at {hour}:{dt:%M} {'am' if dt.hour < 12 else 'pm'}"


def short_date(dt: datetime, lang: str) -> str:
    """'12 мар 2023' / 'Mar 12, 2023' (forum and review-site style)."""
    if lang == "ru":
        return f"{dt.day} {RU_MONTHS_SHORT[dt.month]} {dt.year}"
    return f"{EN_MONTHS[dt.month][:3]} {dt.day}, {dt.year}"


def clock(dt: datetime, lang: str) -> str:
    if lang == "ru":
        return f"{dt:%H:%M}"
    hour = dt.hour % 12 or 12
    return f"{hour}:{dt:%M} {'AM' if dt.hour < 12 else 'PM'}"
