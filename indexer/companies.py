"""Company resolution: which companies a post is about. Precise first.

An alias table (built-in TOML + user files) is compiled into token patterns,
one per alias, with a rule per token:

- Cyrillic words of 5+ letters match by stem ("Сбербанка", "Победой"), shorter
  ones and those whose stem would be under 4 letters only with a noun case
  ending, so "Озона", "Озоне", "Озоном" are "Озон" but "тем" is not "Тему" and
  "ибо" not "Ибей" ("OZON'a" and "ozon.ru" split into tokens anyway);
- Latin words match exactly (case-insensitive) on word boundaries: no stems,
  so "United" never matches "Unit";
- short tokens written with a capital (single letters, acronyms of up to 3
  characters: "WB", "ВБ", "T" of "T-Bank", "TD") match only in their written
  case, and an alias of 3 letters or fewer matches only exactly as written;
- an alias that is a common word ("Chase", "Delta", "Победа", a one-word
  Russian alias that is a dictionary word: "Тему") or whose company is marked
  `proper` counts only when capitalised as written ("DISH" only in capitals),
  so "chase the refund" names nobody, and not where a verb goes with its object
  ('to " Chase the Balance "');
- a domain alias ("ozon.ru") matches only as written, dots included.

Of overlapping matches the leftmost-longest wins, and a name glued to a short
word by "&" ("M & T Bank", "BB&T") is part of that other name, not a mention
of "T-Bank". A shop's or payment app's name on a bank's card ("Best Buy credit
card", "PayPal Credit") is the bank's product, and a carrier a letter was sent
by ("by USPS") is a passing mention.

The table itself (Company, the built-in and user alias files, common words)
is complaintwatch.companies, shared with the crawl side; this module finds
mentions with it and builds alias files from lists of registered names.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from complaintwatch.companies import (
    COMMON_WORDS,
    Company,
    builtin_companies,
    fold,
    is_common_word,
    load_alias_file,
    vocabulary,
)

from .analysis import stem

_WORD = re.compile(r"\w+", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_DOMAIN = re.compile(r"^[\w-]+(?:\.[\w-]+)+$", re.UNICODE)
# "M & T Bank", "BB&T": a name right after a short word and "&" belongs to that longer name
_AMPERSAND_BEFORE = re.compile(r"(?:^|\W)\w{1,3}\s*&\s*$")

# "Best Buy credit card", "PayPal Credit", "Delta SkyMiles card", "BESTBUY/CBNA": a card or credit line that
# carries a shop's or an airline's name is a bank's product; the shop is not what the post is about
_COBRANDED_PRODUCT = re.compile(
    r"\W{0,3}(?:(?:gold|platinum|reserve|blue|business|rewards?|skymiles|store|secured|premier)\s+)*"
    r"(?:credit\s+card|card\b|credit\b|visa\b|master\s?card|amex\b|american\s+express|cbna\b|synchrony|citi)",
    re.I,
)

# a one-word common-word alias where a verb goes (at the start of a sentence or quote, after "to" or a
# modal) and followed by its object is the verb: '" Chase the Balance', "to discover your ..."; "called
# Chase the next day" stays a mention
_VERB_OBJECT = re.compile(r"\s+(?:the|a|an|your|my|our|their|his|her|them|him|me|us|you)\b")
_VERB_SLOT = re.compile(
    r"(?:^|[.!?:;\"“«(]|\b(?:to|will|would|can|could|should|must|might|may|did|do|does|not))\s*$", re.I
)

# "sent by USPS", "via signature required UPS", "according to USPS": a carrier named as the way a
# letter went is not what a post is about, unless the sentence is about a parcel
_CHANNEL_BEFORE = re.compile(r"\b(?:by|via|through|using|per|according\s+to)\s+(?:[\w-]+,?\s+){0,4}$", re.I)
_PARCEL = re.compile(
    r"\b(?:packages?|parcels?|shipments?|shipping|shipped|couriers?|deliver(?:y|ed|ies)|(?<!in )orders?|"
    r"посылк\w*|отправлени\w*|доставк\w*)\b",
    re.I,
)
_CLAUSE_END = re.compile(r"[.!?;:()\n]")
_SENTENCE_END = re.compile(r"[.!?\n]")

# Cyrillic alias words this long match by stem ("Сбербанка", "Победой") when the stem keeps
# MIN_STEM_KEPT letters and the word is no dictionary word; shorter ones match only with noun case
# endings ("Озона", "Сбером"): a stem of "Тему" ("тем") or "Ибей" ("иб") is half the language
MIN_STEM_LETTERS = 5
MIN_STEM_KEPT = 4
_NOUN_ENDINGS = tuple("а я у ю е ом ем ой ей ы и ов ев ам ям ами ями ах ях".split())
SHORT_ALIAS_LETTERS = 3  # aliases this short ("WB", "МТС") match only as written

_LEGAL_SUFFIXES = (
    "incorporated",
    "inc",
    "llc",
    "l l c",
    "ltd",
    "limited",
    "lp",
    "l p",
    "llp",
    "pllc",
    "pc",
    "p c",
    "plc",
    "corp",
    "corporation",
    "co",
    "company",
    "companies",
    "group of companies",
    "and company",
    "na",
    "n a",
    "national association",
    "fsb",
    "the",
    "holdings",
    "holding",
    "holding company",
    "us holding company",
    "intermediate holdings",
    "ооо",
    "оао",
    "пао",
    "зао",
    "ао",
)
# trailing words that say what kind of business a name is, not which one
_GENERIC_TAIL = frozenset(
    "financial finance services service solutions systems information management international group "
    "associates partners enterprises bank banks bancorp bankcorp card cards usa us america north south"
    " delaware dakota nevada utah ohio"
    # what a lender, servicer or collector does ("Ocwen Loan Servicing", "Rushmore Loan Management")
    " loan loans mortgage servicing lending outsourcing resources recovery collections capital".split()
)


# kinds of names found besides plain mentions (CompanyResolver._scan)
_PRODUCT, _CHANNEL = "product", "channel"

# token match modes
_CASE, _FOLD, _STEM = 0, 1, 2


@dataclass(frozen=True, slots=True)
class _Pattern:
    cid: str
    keys: tuple[tuple[int, str | frozenset[str]], ...]  # (mode, key or the set of allowed forms) per token
    caps: tuple[str, ...]  # per token: "" any case, "title" a capital first letter, "upper" all capitals
    domain: str = ""  # a domain alias: the matched text, lower-cased, must be exactly this


def _inflected(word: str) -> frozenset[str]:
    """A short Russian name (folded) and its case forms: "озон" -> озона, озоне, озоном, ...;
    "ибей" -> ибея, ибее, ...; a word ending in о/е/у/ю/и ("туту", "этси") is indeclinable."""
    last = word[-1]
    if last in "оеуюиыэ":
        return frozenset({word})
    base = word[:-1] if last in "аяьй" else word
    return frozenset({word, *(base + e for e in _NOUN_ENDINGS)})


def _compile(alias: str, cid: str, proper: bool) -> _Pattern | None:
    words = _WORD.findall(alias)
    if not words:
        return None
    if _DOMAIN.match(alias.strip()) and len(words) > 1:
        return _Pattern(cid, tuple((_FOLD, fold(w)) for w in words), ("",) * len(words), fold(alias.strip()))
    letters = sum(len(w) for w in words)
    folded = [fold(w) for w in words]
    needs_caps = proper or all(f in COMMON_WORDS or f.isdigit() for f in folded)
    # a one-word Russian alias that is also a word ("Тему" is "тема") needs its capital, as "Chase" does
    dictionary_word = len(words) == 1 and bool(_CYRILLIC.search(words[0])) and is_common_word(words[0])
    needs_caps = needs_caps or dictionary_word
    keys: list[tuple[int, str | frozenset[str]]] = []
    caps = []
    for w, f in zip(words, folded, strict=True):
        if letters <= SHORT_ALIAS_LETTERS or (len(w) <= SHORT_ALIAS_LETTERS and w.isupper()):
            keys.append((_CASE, w))
        elif _CYRILLIC.search(w) and w.isalpha():
            st = stem(w)
            if len(w) >= MIN_STEM_LETTERS and len(st) >= MIN_STEM_KEPT and not dictionary_word:
                keys.append((_STEM, st))
            else:
                keys.append((_FOLD, _inflected(f)))
        else:
            keys.append((_FOLD, f))
        if needs_caps and w[:1].isupper():
            caps.append("upper" if len(w) > 1 and w.isupper() else "title")
        else:
            caps.append("")
    return _Pattern(cid, tuple(keys), tuple(caps))


def _caps_ok(word: str, rule: str) -> bool:
    if rule == "title":
        return word[:1].isupper()
    if rule == "upper":
        return word.isupper()
    return True


class CompanyResolver:
    def __init__(self, companies: Iterable[Company]):
        self.companies: dict[str, Company] = {}
        # (mode, first-token key) -> {token keys: pattern}; a later alias with the same keys replaces an earlier one
        self._index: dict[tuple[int, str], dict[tuple, _Pattern]] = {}
        for c in companies:
            self.add(c)

    def add(self, c: Company) -> None:
        """Add a company, or extend an existing one's aliases (and fill in its industry)."""
        if c.id in self.companies:
            old = self.companies[c.id]
            old.aliases += [a for a in c.aliases if a not in old.aliases]
            old.domains += [d for d in c.domains if d not in old.domains]
            old.industry = old.industry or c.industry
            old.country = old.country or c.country
            old.cobranded = old.cobranded or c.cobranded
            c = old
        else:
            self.companies[c.id] = c
        for alias in [c.name, *c.aliases, *c.domains]:
            p = _compile(alias, c.id, c.proper)
            if p is not None:
                mode, first = p.keys[0]
                for k in [first] if isinstance(first, str) else sorted(first):
                    self._index.setdefault((mode, k), {})[(p.keys, p.caps, p.domain)] = p

    @classmethod
    def default(cls, extra_files: Iterable[Path | str] = ()) -> CompanyResolver:
        r = cls(builtin_companies())
        for f in extra_files:
            for c in load_alias_file(f):
                r.add(c)
        return r

    def name(self, company_id: str) -> str:
        """The display name (never the slug, unless the id is unknown)."""
        c = self.companies.get(company_id)
        return c.name if c else company_id

    def industry(self, company_id: str) -> str | None:
        c = self.companies.get(company_id)
        return c.industry if c else None

    def _cobranded(self, cid: str, text: str, end: int) -> bool:
        c = self.companies.get(cid)
        if c is None or not (c.cobranded or (c.industry is not None and c.industry != "banking")):
            return False
        return bool(_COBRANDED_PRODUCT.match(text, end, end + 60))

    def _channel(self, cid: str, text: str, start: int) -> bool:
        """A carrier named as the way something was sent ("sent ... by USPS") in a sentence about no parcel."""
        if self.industry(cid) != "delivery":
            return False
        before = _CLAUSE_END.split(text[max(0, start - 60) : start])[-1]
        if not _CHANNEL_BEFORE.search(before):
            return False
        head = _SENTENCE_END.split(text[max(0, start - 300) : start])[-1]
        tail = _SENTENCE_END.split(text[start : start + 300])[0]
        return not _PARCEL.search(head + tail)

    def mentions(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, company id) of every company mention, leftmost-longest
        (a brand named as a bank's card, "PayPal Credit", is no mention)."""
        return [(start, end, cid) for start, end, cid, kind in self._scan(text) if kind != _PRODUCT]

    def _scan(self, text: str) -> list[tuple[int, int, str, str]]:
        """(start, end, company id, kind) of every name found; kind is "" for a mention,
        _PRODUCT for a co-branded card's brand, _CHANNEL for a carrier a letter was sent by."""
        if not text:
            return []
        words = list(_WORD.finditer(text))
        raw = [m.group() for m in words]
        folded = [fold(w) for w in raw]
        stems: dict[int, str] = {}

        def key(i: int, mode: int) -> str:
            if mode == _CASE:
                return raw[i]
            if mode == _FOLD:
                return folded[i]
            if i not in stems:
                stems[i] = stem(raw[i])
            return stems[i]

        found: list[tuple[int, int, str, str]] = []
        i = 0
        while i < len(words):
            best: tuple[int, int, _Pattern] | None = None  # (tokens, chars, pattern)
            for mode in (_CASE, _FOLD, _STEM):
                bucket = self._index.get((mode, key(i, mode)))
                if not bucket:
                    continue
                for p in bucket.values():
                    n = len(p.keys)
                    if i + n > len(words) or (best and (n, 0) < best[:2]):
                        continue
                    if not all(
                        (key(i + j, m) == k if isinstance(k, str) else key(i + j, m) in k)
                        and _caps_ok(raw[i + j], p.caps[j])
                        for j, (m, k) in enumerate(p.keys)
                    ):
                        continue
                    start, end = words[i].start(), words[i + n - 1].end()
                    if p.domain and fold(text[start:end]) != p.domain:
                        continue
                    if _AMPERSAND_BEFORE.search(text, max(0, start - 16), start):
                        continue
                    if (
                        n == 1
                        and p.caps[0]
                        and _VERB_OBJECT.match(text, end)
                        and _VERB_SLOT.search(text, max(0, start - 12), start)
                    ):
                        continue  # "Chase the balance", "Discover your ...": the word, not the name
                    cand = (n, end - start, p)
                    if best is None or cand[:2] > best[:2]:
                        best = cand
            if best is None:
                i += 1
                continue
            n, _, p = best
            start, end = words[i].start(), words[i + n - 1].end()
            kind = ""
            if self._cobranded(p.cid, text, end):
                kind = _PRODUCT
            elif self._channel(p.cid, text, start):
                kind = _CHANNEL
            found.append((start, end, p.cid, kind))
            i += n
        return found

    def subject_ids(self, subject: str | None) -> list[str]:
        """[subject] when it is an alias-table id (a source declared "about"
        a company: `crawl --about`, sources.toml `company`), else []."""
        s = (subject or "").strip()
        return [s] if s in self.companies else []

    def resolve(self, *texts: str, passing: bool = False) -> list[str]:
        """Company ids the texts are about, most-mentioned first.

        A company of another industry named once, in a post that names companies
        of its main industry more often ("USPS lost the card" in a complaint
        about a bank), and a carrier named as the way a letter went ("sent the
        dispute by USPS") are passing mentions, not what the post is about: left
        out unless `passing`."""
        counts: dict[str, int] = {}
        as_product: dict[str, int] = {}
        for text in texts:
            for _, _, cid, kind in self._scan(text):
                if kind == _PRODUCT:
                    as_product[cid] = as_product.get(cid, 0) + 1
                elif kind != _CHANNEL or passing:
                    counts[cid] = counts.get(cid, 0) + 1
        # a brand named as a bank's card ("PayPal Credit ... I contacted PayPal") is, in that post,
        # mostly that card: it counts only when named more often as itself
        counts = {c: n for c, n in counts.items() if n > as_product.get(c, 0)}
        ranked = sorted(counts, key=lambda c: -counts[c])
        if passing or len(ranked) < 2:
            return ranked
        by_industry: dict[str | None, int] = {}
        for cid in ranked:
            ind = self.industry(cid)
            by_industry[ind] = by_industry.get(ind, 0) + counts[cid]
        main = max((i for i in by_industry if i), key=lambda i: by_industry[i], default=None)
        if main is None or by_industry[main] < 2:
            return ranked
        return [c for c in ranked if counts[c] > 1 or self.industry(c) in (None, main)]

    def mask(self, text: str, placeholder: str = "") -> str:
        """The text with company names taken out, so that what a post says
        happened, not whom it happened with, decides its incident type."""
        out, pos = [], 0
        for start, end, _ in self.mentions(text):
            out.append(text[pos:start])
            out.append(placeholder)
            pos = end
        out.append(text[pos:])
        return "".join(out)


# ---------------------------------------------------------------- user alias files from a list of names


def _suffix_re(suffix: str) -> re.Pattern:
    body = r"\.?\s*".join(re.escape(w) for w in suffix.split())
    return re.compile(r"[\s,]*(?<![\w&])" + body + r"\.?\s*$", re.I)


_SUFFIX_RES = [_suffix_re(s) for s in sorted(_LEGAL_SUFFIXES, key=len, reverse=True)]
_AND_CO = re.compile(r"[\s,]*&\s*co(?:mpany)?\.?\s*$", re.I)


def strip_legal(name: str) -> str:
    """'JPMORGAN CHASE & CO.' -> 'JPMORGAN CHASE', 'MONEY SOURCE, THE' -> 'MONEY SOURCE',
    'Navient Solutions, LLC.' -> 'Navient Solutions', 'U.S. BANCORP' stays."""
    name = re.sub(r"\([^)]*\)", " ", name)
    name = re.sub(r"^\s*the\s+", "", name, flags=re.I).strip(" ,")
    while True:
        for rx in (_AND_CO, *_SUFFIX_RES):
            shorter = rx.sub("", name).strip(" ,")
            if shorter != name and _WORD.search(shorter):
                name = shorter
                break
        else:
            return re.sub(r"\s+", " ", name).strip()


def display_name(name: str) -> str:
    """'WELLS FARGO' -> 'Wells Fargo'; mixed-case names stay as written; 'PNC' stays."""
    if not name.isupper() or len(_WORD.findall(name)) == 1 and len(name) <= 4:
        return name
    out = []
    for w in name.split():
        core = re.sub(r"\W", "", w)
        if len(core) <= 3 and (not re.search(r"[AEIOUYАЕЁИОУЫЭЮЯ]", core) or "&" in w or "." in w or "/" in w):
            out.append(w)
        elif w.lower() in ("of", "and", "for", "the"):
            out.append(w.lower())
        else:
            out.append(w.capitalize())
    return " ".join(out)


def slug(name: str) -> str:
    return re.sub(r"[^\w]+", "-", name.lower()).strip("-") or "company"


@functools.cache
def _vocabulary_stems() -> frozenset[str]:
    return frozenset(stem(w) for w in vocabulary() if w.isascii())


def _dictionary_word(word: str) -> bool:
    """is_common_word, inflections included: "Specialized" is the word "special",
    not a coined name, though the vocabulary lists only its stem's other forms."""
    return is_common_word(word) or (len(word) >= 5 and word.isascii() and stem(word) in _vocabulary_stems())


def _core(name: str) -> str:
    """The name without legal suffixes, unless that leaves one common word
    ("CARD Corporation" stays: "CARD" alone would be every card)."""
    core = strip_legal(name)
    words = _WORD.findall(core)
    if len(words) == 1 and len(words[0]) > SHORT_ALIAS_LETTERS and _dictionary_word(words[0]):
        return re.sub(r"\s+", " ", re.sub(r"\([^)]*\)", " ", name)).strip(" ,")
    return core


def aliases_for(name: str) -> list[str]:
    """How people write a company's registered name: the name without legal
    suffixes, and without trailing business words ("Navient Solutions" ->
    "Navient") unless what is left is one common word, a place or too short."""
    core = _core(name)
    if not core:
        return []
    out = [core]
    words = core.split()
    while len(words) > 1 and words[-1].lower() in _GENERIC_TAIL:
        words = words[:-1]
        while len(words) > 1 and words[-1].lower() in ("of", "and", "&", "for", "the"):
            words = words[:-1]
        short = " ".join(words)
        letters = sum(len(re.sub(r"\W", "", w)) for w in words)
        # four letters are enough for an acronym in capitals ("BBVA", "ECMC"), not for a word ("Bank")
        acronym = letters == SHORT_ALIAS_LETTERS + 1 and short.isupper() and len(words) == 1
        if (letters <= SHORT_ALIAS_LETTERS + 1 and not acronym) or all(
            _dictionary_word(w) for w in _WORD.findall(short)
        ):
            break
        out.append(short)
    # "AES/PHEAA": one company under two names, each written alone
    if "/" in core and " " not in core.strip():
        out += [part for part in core.split("/") if _distinctive(part)]
    pretty = [display_name(a) for a in out]
    return list(dict.fromkeys(a for pair in zip(out, pretty, strict=True) for a in pair))


def _distinctive(word: str) -> bool:
    """A one-word name that names nothing else: a coined word of four letters or more,
    or an acronym of three or more in capitals ("AES", "PHEAA")."""
    letters = re.sub(r"\W", "", word)
    if len(letters) < SHORT_ALIAS_LETTERS or (len(letters) == SHORT_ALIAS_LETTERS and not letters.isupper()):
        return False
    return not _dictionary_word(letters)


def _known_company(core: str, base: CompanyResolver) -> str | None:
    """The known company a registered name is: a mention of it opens the name and
    what follows is only business words ("Capital One Financial", "Barclays Bank
    Delaware"), so "Chase Receivables" is not Chase."""
    hits = base.mentions(core)
    if not hits or hits[0][0] != 0:
        return None
    rest = [w.lower() for w in _WORD.findall(core[hits[0][1] :])]
    return hits[0][2] if all(w in _GENERIC_TAIL for w in rest) else None


def companies_from_names(
    names: Iterable[str], base: CompanyResolver | None = None, industry: str | None = None
) -> dict[str, Company]:
    """One alias entry per distinct name. With `base`, a name that is already a
    known company (its legal-suffix-free form is exactly one of that company's
    mentions, from its first word) extends that company instead of adding a new
    one. Returns {registered name: Company}; short forms shared by two names are
    dropped from both (ambiguous)."""
    out: dict[str, Company] = {}
    for raw in dict.fromkeys(n.strip() for n in names if n and n.strip()):
        aliases = aliases_for(raw)
        if not aliases:
            continue
        cid = None
        if base is not None:
            cid = _known_company(aliases[0], base)
        name = base.name(cid) if base is not None and cid else display_name(aliases[0])
        out[raw] = Company(id=cid or slug(aliases[0]), name=name, aliases=aliases, industry=None if cid else industry)
    # a short form two registered names share names neither of them
    owners: dict[str, set[str]] = {}
    for c in out.values():
        for a in c.aliases:
            owners.setdefault(fold(a), set()).add(c.id)
    for c in out.values():
        c.aliases = [a for a in c.aliases if len(owners[fold(a)]) == 1]
    return out


def write_alias_file(companies: Iterable[Company], path: Path | str) -> None:
    """A user alias file (TOML) that `complaintwatch index --companies` reads."""

    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    merged: dict[str, Company] = {}
    for c in companies:
        if c.id in merged:
            merged[c.id].aliases += [a for a in c.aliases if a not in merged[c.id].aliases]
        else:
            merged[c.id] = Company(
                c.id, c.name, list(c.aliases), list(c.domains), c.proper, c.industry, c.country, c.cobranded
            )
    lines = ["# company aliases built from a list of registered names (indexer.companies.write_alias_file)", ""]
    for c in merged.values():
        lines.append(f"[{q(c.id)}]")
        lines.append(f"name = {q(c.name)}")
        lines.append("aliases = [" + ", ".join(q(a) for a in c.aliases) + "]")
        if c.domains:
            lines.append("domains = [" + ", ".join(q(d) for d in c.domains) + "]")
        if c.industry:
            lines.append(f"industry = {q(c.industry)}")
        if c.cobranded:
            lines.append("cobranded = true")
        lines.append("")
    Path(path).write_text("\n".join(lines), encoding="utf-8")


def alias_file_from_csv(
    csv_path: Path | str,
    column: str,
    out: Path | str,
    base: CompanyResolver | None = None,
    industry: str | None = None,
) -> dict[str, Company]:
    """Build a user alias file from one column of a CSV (e.g. CFPB's `Company`);
    `industry` for the new companies when the list is of one kind (banking)."""
    with open(csv_path, encoding="utf-8", newline="") as f:
        names = [row.get(column) or "" for row in csv.DictReader(f)]
    table = companies_from_names(names, base, industry)
    write_alias_file(table.values(), out)
    return table


if __name__ == "__main__":  # python -m indexer.companies FILE.csv COLUMN OUT.toml [INDUSTRY]
    import sys

    if len(sys.argv) not in (4, 5):
        sys.exit("usage: python -m indexer.companies FILE.csv COLUMN OUT.toml [INDUSTRY]")
    ind = sys.argv[4] if len(sys.argv) == 5 else None
    t = alias_file_from_csv(sys.argv[1], sys.argv[2], sys.argv[3], CompanyResolver.default(), ind)
    print(f"wrote {len(set(c.id for c in t.values()))} companies from {len(t)} names to {sys.argv[3]}")
