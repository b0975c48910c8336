"""Hand-written sentence fragments the corpus composes posts from
(data/fragments_ru.toml, data/fragments_en.toml; their header explains the
markup that corpus.fits() and corpus.fill() understand)."""

from __future__ import annotations

from dataclasses import dataclass

from .resources import load_data


@dataclass(frozen=True, slots=True)
class Fragments:
    """One language's fragments."""

    pools: dict[str, dict[str, list[str]]]  # topic -> titles/openers/middles/closers/comments
    comments: dict[str, list[str]]  # same, skeptic, ask, op_followup, op_thanks
    generic: list[str]  # filler sentences with no incident signal
    replies: dict[str, dict[str, list[str]]]  # company id -> complaint/praise -> official replies
    courier_mentions: list[str]  # a shop's complaint naming the courier too


FRAGMENTS: dict[str, Fragments] = {lang: Fragments(**load_data(f"fragments_{lang}")) for lang in ("ru", "en")}
