"""Word lists the corpus draws concrete details from: people, places,
products (data/vocab.toml)."""

from __future__ import annotations

from dataclasses import dataclass

from .resources import load_data


@dataclass(frozen=True, slots=True)
class Words:
    """One language's people and places."""

    male: list[str]  # first names
    female: list[str]
    surnames: list[str]  # Russian: masculine forms, corpus derives the feminine
    nick_words: list[str]
    operators: list[str]  # support staff the posts name
    agents: list[str]  # who signs a company's reply
    cities: list  # ru: [nominative, prepositional, genitive] triples; en: names
    streets: list[str]


_DATA = load_data("vocab")

WORDS: dict[str, Words] = {lang: Words(**_DATA[lang]) for lang in ("ru", "en")}
# Russian products are in the accusative: fragments use {product} as an object.
PRODUCTS: dict[str, dict[str, list[str]]] = _DATA["products"]  # kind -> lang -> products
AMOUNT_RANGES: dict[str, tuple[int, int]] = {k: (lo, hi) for k, (lo, hi) in _DATA["amount_ranges"].items()}
PROMO_STEMS: list[str] = _DATA["promo_stems"]
ORDER_FORMATS: dict[str, str] = _DATA["order_formats"]  # company id -> str.format shape
