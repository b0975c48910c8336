"""The fictional companies the demo site writes about, and how people name
them (data/companies.toml).

Every name there is invented. `aliases` lists every spelling that actually
occurs in the generated texts (Russian case forms, domains, English
transliterations); the demo adds them to the indexer's alias table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from .resources import load_data

_DATA = load_data("companies")

# Incident taxonomy keys with (English, Russian) labels.
INCIDENT_TYPES: dict[str, tuple[str, str]] = {k: (en, ru) for k, (en, ru) in _DATA["incident_types"].items()}

# Which incident types make sense for which kind of business; the corpus only
# draws fragments that fit the company's kind.
SHOP_KINDS = frozenset({"marketplace", "electronics", "grocery", "fashion", "home"})

FIRST_DAY: date = _DATA["first_day"]
LAST_DAY: date = _DATA["last_day"]


@dataclass(frozen=True, slots=True)
class Trend:
    """One component of a company's complaint profile over time.

    incident None means noise (praise or a neutral question). shape controls
    how post dates are drawn inside [start, end]: flat = uniform, rising /
    falling = triangular towards the end / start, spike = uniform but the
    window is short, so the component shows up as a burst.
    """

    incident: str | None
    weight: float
    shape: str = "flat"
    start: date = FIRST_DAY
    end: date = LAST_DAY


@dataclass(frozen=True, slots=True)
class Company:
    id: str
    name_ru: str
    name_en: str
    kind: str  # marketplace | electronics | grocery | fashion | home | courier | payments
    domain: str
    # Russian case forms: nominative, genitive, dative, accusative,
    # instrumental, prepositional ("в Коробке", "Коробку", ...).
    forms_ru: tuple[str, str, str, str, str, str]
    aliases_ru: tuple[str, ...]  # other spellings seen in Russian texts
    aliases_en: tuple[str, ...]  # spellings seen in English texts
    official_account: str  # login of the company's account on forum/blog
    official_name_ru: str  # display name of that account / reply block
    official_name_en: str
    reply_rate: float  # share of threads the company answers officially
    posts: int  # root posts to generate about this company
    trends: tuple[Trend, ...]

    @property
    def is_shop(self) -> bool:
        return self.kind in SHOP_KINDS

    @property
    def aliases(self) -> tuple[str, ...]:
        """Every spelling, first occurrence order, no duplicates."""
        names = (
            self.name_ru,
            self.name_en,
            self.domain,
            *self.forms_ru,
            *self.aliases_ru,
            *self.aliases_en,
        )
        return tuple(dict.fromkeys(names))

    def name(self, lang: str) -> str:
        return self.name_ru if lang == "ru" else self.name_en

    def official_name(self, lang: str) -> str:
        return self.official_name_ru if lang == "ru" else self.official_name_en


def _company(entry: dict[str, Any]) -> Company:
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items() if k != "trends"}
    trends = tuple(Trend(**{"incident": None, **t}) for t in entry["trends"])  # no incident: noise
    return Company(**fields, trends=trends)


COMPANIES: list[Company] = [_company(c) for c in _DATA["companies"]]

COMPANY_BY_ID: dict[str, Company] = {c.id: c for c in COMPANIES}

# The courier that shops hand parcels to; delivery complaints about a shop
# sometimes name it too, so one post can carry two companies.
COURIER_ID: str = _DATA["courier_id"]
