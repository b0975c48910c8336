"""What a cluster is about: c-TF-IDF keywords, labels, representative posts.

Keywords are counted on stems (indexer.analysis, Russian/English Snowball) so
"списали", "списание" and "списания" are one term, but each is shown as the
surface word the cluster's posts use most for that stem.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from ..analysis import stem, tokens
from .stopwords import is_stop_word

if TYPE_CHECKING:
    from ..embedders import Embedder
    from ..taxonomy import IncidentType

# Texts are cut like the embedder cuts them: the opening says what happened,
# and it bounds the tokenising cost on 100k-post corpora.
MAX_CHARS = 2000
_LATIN = re.compile(r"[a-z]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# redaction placeholders ("XXXX" in CFPB narratives) and runs like "ааа"
_ONE_CHAR_RUN = re.compile(r"^(.)\1+$")
_HAS_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=500_000)
def _term(token: str) -> tuple[str, str] | None:
    """(stem, lower-cased surface) of a content word, None for anything else."""
    low = token.lower().replace("ё", "е")
    if len(low) < 3 or _HAS_DIGIT.search(low) or _ONE_CHAR_RUN.match(low) or is_stop_word(low):
        return None
    return stem(low), low


def _terms(text: str) -> dict[str, str]:
    """stem -> first surface form, for the distinct content words of one text."""
    out: dict[str, str] = {}
    for tok in tokens(text[:MAX_CHARS]):
        if (t := _term(tok)) is not None:
            out.setdefault(t[0], t[1])
    return out


def ctfidf_keywords(docs_by_class: dict[int, Sequence[str]], top_n: int = 10) -> dict[int, list[str]]:
    """Top keywords per class by class-based TF-IDF (as in BERTopic):
    tf(t, c) * log(1 + A / f(t)), A = mean term count per class, f(t) = count of t
    over all classes. A term counts once per post, so one long post repeating a
    word cannot make it a cluster keyword. Classes with a negative id (outliers)
    take part in f(t) but get no keywords."""
    counts: dict[int, Counter[str]] = {}
    surfaces: dict[int, dict[str, Counter[str]]] = {}
    for c, docs in docs_by_class.items():
        cnt: Counter[str] = Counter()
        surf: dict[str, Counter[str]] = {}
        for doc in docs:
            for st, word in _terms(doc).items():
                cnt[st] += 1
                surf.setdefault(st, Counter())[word] += 1
        counts[c], surfaces[c] = cnt, surf
    total: Counter[str] = Counter()
    for cnt in counts.values():
        total.update(cnt)
    avg = np.mean([sum(cnt.values()) for cnt in counts.values()]) if counts else 0.0
    out: dict[int, list[str]] = {}
    for c, cnt in counts.items():
        if c < 0:
            continue
        size = sum(cnt.values()) or 1
        scored = sorted(
            ((n / size) * np.log1p(avg / total[st]), st) for st, n in cnt.items() if n >= min(2, len(docs_by_class[c]))
        )
        out[c] = [surfaces[c][st].most_common(1)[0][0] for _, st in reversed(scored[-top_n:])]
    return out


def keyword_label(keywords: list[str], script: re.Pattern[str], n: int = 3) -> str:
    """A short label from the top keywords, preferring words in the label's own
    script (there is no translation here: an English-only cluster gets English
    words in its Russian label rather than none)."""
    own = [w for w in keywords if script.search(w)]
    words = (own or keywords)[:n]
    return " / ".join(words).capitalize() if words else ""


@dataclass(slots=True)
class TaxonomyPrototype:
    """A seed-taxonomy entry with its prototype: the unit mean embedding of its examples."""

    key: str
    label_en: str
    label_ru: str
    vector: np.ndarray


def taxonomy_prototypes(types: Sequence[IncidentType], embedder: Embedder) -> list[TaxonomyPrototype]:
    """From indexer.taxonomy.load_taxonomy() entries and the embedder of the posts."""
    out = []
    for t in types:
        v = embedder.encode(list(t.examples)).mean(axis=0)
        out.append(TaxonomyPrototype(t.key, t.label_en, t.label_ru, (v / np.linalg.norm(v)).astype(np.float32)))
    return out


@dataclass(slots=True)
class Description:
    keywords: list[str]
    label_en: str
    label_ru: str
    taxonomy_key: str | None
    taxonomy_sim: float = 0.0


def describe(
    keywords: list[str], centroid: np.ndarray, taxonomy: Sequence[TaxonomyPrototype], min_sim: float
) -> Description:
    """Labels: the nearest seed-taxonomy entry's when the cluster centroid is
    close enough to its prototype, otherwise built from the keywords."""
    if taxonomy:
        sims = np.array([float(centroid @ t.vector) for t in taxonomy])
        best = int(sims.argmax())
        if sims[best] >= min_sim:
            t = taxonomy[best]
            return Description(keywords, t.label_en, t.label_ru, t.key, float(sims[best]))
    en = keyword_label(keywords, _LATIN) or "Unlabelled incident type"
    ru = keyword_label(keywords, _CYRILLIC) or "Тип инцидента без названия"
    return Description(keywords, en, ru, None)


def disambiguate(descriptions: dict[int, Description]) -> None:
    """Clusters that matched the same taxonomy entry keep its key, but all but
    the closest one get their top keyword appended so the UI can tell them apart."""
    by_key: dict[str, list[int]] = {}
    for cid, d in descriptions.items():
        if d.taxonomy_key:
            by_key.setdefault(d.taxonomy_key, []).append(cid)
    for cids in by_key.values():
        cids.sort(key=lambda c: -descriptions[c].taxonomy_sim)
        for cid in cids[1:]:
            d = descriptions[cid]
            fresh = [w for w in d.keywords if w not in d.label_en.lower() and w not in d.label_ru.lower()]
            if fresh:
                en = next((w for w in fresh if _LATIN.search(w)), fresh[0])
                ru = next((w for w in fresh if _CYRILLIC.search(w)), fresh[0])
                d.label_en, d.label_ru = f"{d.label_en} ({en})", f"{d.label_ru} ({ru})"


def representatives(z: np.ndarray, members: np.ndarray, centroid: np.ndarray, n: int = 3) -> np.ndarray:
    """Row indices of the n members closest to the centroid."""
    sims = z[members] @ centroid
    return members[np.argsort(-sims, kind="stable")[:n]]
