"""Company resolution: which companies a post is about.

An alias table (built-in TOML + user files) is compiled into stem n-grams, so
"Озона", "Озоне", "OZON'a" and "ozon.ru" all reduce to the same key as "OZON".
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .analysis import stem

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(slots=True)
class Company:
    id: str
    name: str
    aliases: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    proper: bool = False  # names are also common words: capitalised aliases need a capital


def load_alias_file(path: Path | str) -> list[Company]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return [_company(cid, entry) for cid, entry in data.items()]


def builtin_companies() -> list[Company]:
    text = resources.files("indexer").joinpath("data/companies.toml").read_text(encoding="utf-8")
    return [_company(cid, entry) for cid, entry in tomllib.loads(text).items()]


def _company(cid: str, entry: dict) -> Company:
    return Company(
        id=cid,
        name=entry.get("name", cid),
        aliases=list(entry.get("aliases", [])),
        domains=list(entry.get("domains", [])),
        proper=bool(entry.get("proper", False)),
    )


def _key(words: list[str]) -> tuple[str, ...]:
    return tuple(stem(w) for w in words)


class CompanyResolver:
    def __init__(self, companies: Iterable[Company]):
        self.companies: dict[str, Company] = {}
        # stem n-gram -> (company id, proper)
        self._index: dict[tuple[str, ...], tuple[str, bool]] = {}
        self._max_n = 1
        for c in companies:
            self.add(c)

    def add(self, c: Company) -> None:
        """Add a company, or extend an existing one's aliases."""
        if c.id in self.companies:
            old = self.companies[c.id]
            old.aliases += [a for a in c.aliases if a not in old.aliases]
            old.domains += [d for d in c.domains if d not in old.domains]
            c = old
        else:
            self.companies[c.id] = c
        for alias in [c.name, *c.aliases, *c.domains]:
            words = _WORD.findall(alias)
            if not words:
                continue
            key = _key(words)
            # a lower-case alias ("korobka.ru") is specific enough on its own
            self._index[key] = (c.id, c.proper and alias[:1].isupper())
            self._max_n = max(self._max_n, len(key))

    @classmethod
    def default(cls, extra_files: Iterable[Path | str] = ()) -> CompanyResolver:
        r = cls(builtin_companies())
        for f in extra_files:
            for c in load_alias_file(f):
                r.add(c)
        return r

    def mentions(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, company id) of every company mention, longest alias first."""
        if not text:
            return []
        words = list(_WORD.finditer(text))
        stems = [stem(m.group()) for m in words]
        found: list[tuple[int, int, str]] = []
        i = 0
        while i < len(words):
            for n in range(min(self._max_n, len(words) - i), 0, -1):
                hit = self._index.get(tuple(stems[i : i + n]))
                if hit and (not hit[1] or words[i].group()[:1].isupper()):
                    found.append((words[i].start(), words[i + n - 1].end(), hit[0]))
                    i += n
                    break
            else:
                i += 1
        return found

    def resolve(self, *texts: str) -> list[str]:
        """Company ids mentioned in the texts, most-mentioned first."""
        counts: dict[str, int] = {}
        for text in texts:
            for _, _, cid in self.mentions(text):
                counts[cid] = counts.get(cid, 0) + 1
        return sorted(counts, key=lambda c: -counts[c])

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
