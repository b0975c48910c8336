"""The fictional companies the demo site writes about, and how people name them.

Every name here is invented. The indexer reads `COMPANIES` to build its alias
table, so `aliases` lists every spelling that actually occurs in the generated
texts (Russian case forms, domains, English transliterations).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Incident taxonomy keys with (English, Russian) labels.
INCIDENT_TYPES: dict[str, tuple[str, str]] = {
    "lost_parcel": ("Lost parcel", "Потерянная посылка"),
    "order_cancelled_by_shop": ("Order cancelled by the shop", "Магазин отменил заказ"),
    "refund_refused": ("Refund refused", "Отказ в возврате денег"),
    "promo_cancelled": ("Promo code / bonus points cancelled", "Аннулировали промокод или баллы"),
    "useless_support": ("Useless customer support", "Бесполезная поддержка"),
    "defective_item": ("Defective or wrong item", "Брак или не тот товар"),
    "double_charge": ("Charged twice", "Двойное списание"),
    "delivery_delay": ("Delivery delayed", "Задержка доставки"),
}

# Which incident types make sense for which kind of business; the corpus only
# draws fragments that fit the company's kind.
SHOP_KINDS = frozenset({"marketplace", "electronics", "grocery", "fashion", "home"})

FIRST_DAY = date(2019, 1, 1)
LAST_DAY = date(2025, 9, 30)


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


def _d(y: int, m: int, d: int) -> date:
    return date(y, m, d)


COMPANIES: list[Company] = [
    Company(
        id="korobka",
        name_ru="Коробка",
        name_en="Korobka",
        kind="marketplace",
        domain="korobka.ru",
        forms_ru=("Коробка", "Коробки", "Коробке", "Коробку", "Коробкой", "Коробке"),
        aliases_ru=("Коробка.ру", "korobka", "маркетплейс Коробка"),
        aliases_en=("Korobka.ru", "Korobka marketplace"),
        official_account="Korobka_Official",
        official_name_ru="Коробка — служба заботы",
        official_name_en="Korobka Care Team",
        reply_rate=0.4,
        posts=58,
        trends=(
            Trend("order_cancelled_by_shop", 0.22),
            Trend("lost_parcel", 0.11),
            Trend("promo_cancelled", 0.05),
            # Bonus points wiped after the November 2023 sale.
            Trend("promo_cancelled", 0.2, "spike", _d(2023, 11, 12), _d(2024, 1, 25)),
            Trend("useless_support", 0.11),
            Trend("refund_refused", 0.1),
            Trend("delivery_delay", 0.1),
            Trend("double_charge", 0.03),
            Trend(None, 0.07),
        ),
    ),
    Company(
        id="technopuls",
        name_ru="ТехноПульс",
        name_en="TechnoPuls",
        kind="electronics",
        domain="technopuls.ru",
        forms_ru=("ТехноПульс", "ТехноПульса", "ТехноПульсу", "ТехноПульс", "ТехноПульсом", "ТехноПульсе"),
        aliases_ru=("Технопульс", "Техно Пульс", "Технопульсе", "Технопульса"),
        aliases_en=("TechnoPulse", "Techno Puls", "Technopuls"),
        official_account="TechnoPuls_Support",
        official_name_ru="ТехноПульс — поддержка",
        official_name_en="TechnoPuls Support",
        reply_rate=0.25,
        posts=44,
        trends=(
            Trend("defective_item", 0.3),
            # Warranty refunds got harder after a policy change in mid-2021.
            Trend("refund_refused", 0.25, "rising", _d(2021, 6, 1)),
            Trend("useless_support", 0.14),
            Trend("order_cancelled_by_shop", 0.1, "falling", FIRST_DAY, _d(2022, 12, 31)),
            Trend("delivery_delay", 0.08),
            Trend("double_charge", 0.05),
            Trend(None, 0.08),
        ),
    ),
    Company(
        id="lukoshko24",
        name_ru="Лукошко24",
        name_en="Lukoshko24",
        kind="grocery",
        domain="lukoshko24.ru",
        forms_ru=("Лукошко24", "Лукошко24", "Лукошко24", "Лукошко24", "Лукошко24", "Лукошко24"),
        aliases_ru=("Лукошко", "Лукошко 24", "лукошко24"),
        aliases_en=("Lukoshko", "Lukoshko 24"),
        official_account="Lukoshko24",
        official_name_ru="Лукошко24 — забота о покупателях",
        official_name_en="Lukoshko24 Customer Care",
        reply_rate=0.6,
        posts=40,
        trends=(
            # Lockdown spring 2020: couriers could not keep up.
            Trend("delivery_delay", 0.25, "spike", _d(2020, 3, 25), _d(2020, 6, 30)),
            Trend("delivery_delay", 0.1),
            Trend("defective_item", 0.25),
            Trend("double_charge", 0.1),
            Trend("order_cancelled_by_shop", 0.08),
            Trend("promo_cancelled", 0.05),
            Trend(None, 0.15),
        ),
    ),
    Company(
        id="garderobia",
        name_ru="Гардеробия",
        name_en="Garderobia",
        kind="fashion",
        domain="garderobia.ru",
        forms_ru=("Гардеробия", "Гардеробии", "Гардеробии", "Гардеробию", "Гардеробией", "Гардеробии"),
        aliases_ru=("гардеробия.ру", "Гардеробия.ру"),
        aliases_en=("Garderobia.ru", "Garderobiya"),
        official_account="Garderobia_Team",
        official_name_ru="Гардеробия — команда поддержки",
        official_name_en="Garderobia Team",
        reply_rate=0.3,
        posts=40,
        trends=(
            Trend("refund_refused", 0.35),
            Trend("order_cancelled_by_shop", 0.15),
            Trend("defective_item", 0.15),
            Trend("promo_cancelled", 0.1),
            Trend("delivery_delay", 0.1),
            Trend("useless_support", 0.05),
            Trend(None, 0.1),
        ),
    ),
    Company(
        id="penguin_express",
        name_ru="Пингвин Экспресс",
        name_en="Penguin Express",
        kind="courier",
        domain="pingvin-express.ru",
        forms_ru=(
            "Пингвин Экспресс",
            "Пингвин Экспресса",
            "Пингвин Экспрессу",
            "Пингвин Экспресс",
            "Пингвин Экспрессом",
            "Пингвин Экспрессе",
        ),
        aliases_ru=("Пингвин", "Пингвина", "Пингвину", "Пингвином", "Пингвине", "ПингвинЭкспресс"),
        aliases_en=("PenguinEx", "Pingvin Express", "Penguin Xpress"),
        official_account="PenguinExpress",
        official_name_ru="Пингвин Экспресс",
        official_name_en="Penguin Express",
        reply_rate=0.0,
        posts=45,
        trends=(
            # Parcels started vanishing after the 2024 sorting-hub move.
            Trend("lost_parcel", 0.4, "rising", _d(2023, 9, 1)),
            Trend("lost_parcel", 0.08),
            Trend("delivery_delay", 0.25),
            Trend("useless_support", 0.15),
            Trend("refund_refused", 0.07),
            Trend("double_charge", 0.02),
            Trend(None, 0.03),
        ),
    ),
    Company(
        id="karmanpay",
        name_ru="КарманПэй",
        name_en="KarmanPay",
        kind="payments",
        domain="karmanpay.ru",
        forms_ru=("КарманПэй", "КарманПэй", "КарманПэй", "КарманПэй", "КарманПэй", "КарманПэй"),
        aliases_ru=("Карман Пэй", "Карманпэй", "карта КарманПэй", "Карман"),
        aliases_en=("Karman Pay", "Karmanpay", "KarmanPay card"),
        official_account="KarmanPay_Help",
        official_name_ru="КарманПэй — помощь",
        official_name_en="KarmanPay Help",
        reply_rate=0.15,
        posts=40,
        trends=(
            Trend("useless_support", 0.35),
            # Processing bug in early 2021 charged card payments twice.
            Trend("double_charge", 0.2, "spike", _d(2021, 2, 1), _d(2021, 5, 15)),
            Trend("double_charge", 0.08),
            Trend("promo_cancelled", 0.15, "flat", _d(2022, 1, 1), _d(2023, 12, 31)),
            Trend("refund_refused", 0.12),
            Trend(None, 0.1),
        ),
    ),
    Company(
        id="uyutdom",
        name_ru="УютДом",
        name_en="UyutDom",
        kind="home",
        domain="uyutdom.ru",
        forms_ru=("УютДом", "УютДома", "УютДому", "УютДом", "УютДомом", "УютДоме"),
        aliases_ru=("Уют Дом", "Уютдом", "Уютдоме"),
        aliases_en=("Uyut Dom", "Uyutdom"),
        official_account="UyutDom_Shop",
        official_name_ru="УютДом — официальный аккаунт",
        official_name_en="UyutDom Official",
        reply_rate=0.5,
        posts=33,
        trends=(
            Trend(None, 0.54),
            Trend("delivery_delay", 0.18),
            Trend("defective_item", 0.18),
            Trend("useless_support", 0.05),
            Trend("refund_refused", 0.05),
        ),
    ),
]

COMPANY_BY_ID: dict[str, Company] = {c.id: c for c in COMPANIES}

# The courier that shops hand parcels to; delivery complaints about a shop
# sometimes name it too, so one post can carry two companies.
COURIER_ID = "penguin_express"
