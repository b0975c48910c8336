"""What a cluster is about: seed types, c-TF-IDF keyphrases, labels, representatives.

Seed types come in packs per industry (indexer.taxonomy). Each type gets a
similarity threshold calibrated on its pack's own examples (leave-one-out: how
close a held-out example of the type is to the rest, against how close the
other types' examples are), never on evaluation labels. A post is offered only
the types of its pack; a cluster takes a seed type only when its centroid
clears that type's threshold and a share of its members do on their own.

Everything else is named by keyphrases: 2-3 consecutive content words
(lemmatised with pymorphy3 for Russian when it is installed, Snowball stems
otherwise; stems for English), counted once per post, ranked by class-based
TF-IDF, shown in the surface form the cluster's posts use most. Stop words,
filler words, company names and phrases spread evenly over every cluster
(templates, boilerplate) never become keyphrases. Single-word keywords
(ctfidf_keywords) are kept for the keyword list.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from ..analysis import stem, tokens
from .stopwords import is_filler
from .words import WORDS, stem_of

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
    if len(low) < 3 or _HAS_DIGIT.search(low) or _ONE_CHAR_RUN.match(low) or is_filler(low):
        return None
    s = stem_of(low)  # a filler is out above: never None here
    return (s if s is not None else stem(low)), low


def _terms(text: str) -> dict[str, str]:
    """stem -> first surface form, for the distinct content words of one text."""
    out: dict[str, str] = {}
    for tok in dict.fromkeys(tokens(text[:MAX_CHARS])):  # each word once, first-seen order
        if (t := _term(tok)) is not None:
            out.setdefault(t[0], t[1])
    return out


def _count(cnt: Counter[str], surf: dict[str, dict[str, int]], found: Mapping[str, str]) -> None:
    """Count one post's distinct keys (key -> surface) into ``cnt`` and each key's surfaces into ``surf``."""
    cnt.update(found.keys())  # an iterable of keys: each counts once (C loop)
    for key, words in found.items():
        if (s := surf.get(key)) is None:
            surf[key] = {words: 1}  # a plain dict: a Counter per key was a third of the counting
        else:
            s[words] = s.get(words, 0) + 1


def _most_common(counts: dict[str, int]) -> str:
    """The most frequent surface, the first seen among equals (Counter.most_common(1))."""
    return max(counts, key=counts.__getitem__)


def ctfidf_keywords(docs_by_class: Mapping[int, Sequence[str]], top_n: int = 10) -> dict[int, list[str]]:
    """Top keywords per class by class-based TF-IDF (as in BERTopic):
    tf(t, c) * log(1 + A / f(t)), A = mean term count per class, f(t) = count of t
    over all classes. A term counts once per post, so one long post repeating a
    word cannot make it a cluster keyword. Classes with a negative id (outliers)
    take part in f(t) but get no keywords."""
    counts: dict[int, Counter[str]] = {}
    surfaces: dict[int, dict[str, dict[str, int]]] = {}
    for c, docs in docs_by_class.items():
        cnt: Counter[str] = Counter()
        surf: dict[str, dict[str, int]] = {}
        for doc in docs:
            _count(cnt, surf, _terms(doc))
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
        out[c] = [_most_common(surfaces[c][st]) for _, st in reversed(scored[-top_n:])]
    return out


def keyword_label(keywords: list[str], script: re.Pattern[str], n: int = 3) -> str:
    """A short label from the top keywords, preferring words in the label's own
    script (there is no translation here: an English-only cluster gets English
    words in its Russian label rather than none)."""
    own = [w for w in keywords if script.search(w)]
    words = (own or keywords)[:n]
    return " / ".join(words).capitalize() if words else ""


# -- keyphrases --

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
# phrases never run across punctuation, line breaks or masked-out names
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"«»“”„…/\\|*#@&+=<>~^]|\s[-–—]\s|\n|\s{2,}")
# Russian parts of speech that never make a noun phrase (pronouns, adverbs,
# predicatives, conjunctions, particles, interjections, prepositions, numerals)
_RU_NO = frozenset({"NPRO", "ADVB", "PRED", "CONJ", "PRCL", "INTJ", "PREP", "NUMR", "COMP"})


@lru_cache(maxsize=1)
def _morph():
    try:
        import pymorphy3
    except ImportError:  # optional: Snowball stems stand in for lemmas
        return None
    return pymorphy3.MorphAnalyzer()


def _word(token: str) -> tuple[str, str, str] | None:
    """(key, surface, part of speech) of a content word, None for anything else.
    The key is the pymorphy3 lemma for Russian words (the Snowball stem when it
    is missing), the Snowball stem otherwise. Cached by word (words.WORDS,
    kept between runs)."""
    low = token.lower()
    got = WORDS.get(low, _MISSING)
    if got is _MISSING:
        got = WORDS[low] = _analyse_word(low)
    return got


_MISSING = ("", "", "")


def _analyse_word(low: str) -> tuple[str, str, str] | None:
    low = low.replace("ё", "е")
    if len(low) < 3 or _HAS_DIGIT.search(low) or _ONE_CHAR_RUN.match(low) or is_filler(low):
        return None
    if _CYRILLIC.search(low):
        morph = _morph()
        if morph is not None:
            p = morph.parse(low)[0]
            pos = str(p.tag.POS or "")
            if pos in _RU_NO or {"Name", "Surn", "Patr"} & p.tag.grammemes:  # never people's names
                return None
            lemma = p.normal_form.replace("ё", "е")
            if is_filler(lemma):
                return None
            return lemma, low, pos
        return stem(low), low, ""
    s = stem_of(low)
    return (s if s is not None else stem(low)), low, ""


def _phrases(text: str, banned: frozenset[str], sizes: tuple[int, ...] = (2, 3)) -> dict[str, str]:
    """key -> surface for the distinct 2-3-word phrases of content words in one text.
    A Russian phrase needs a noun (pymorphy3), an English one cannot end in "-ly"."""
    out: dict[str, str] = {}
    nouns = _morph() is not None
    # _word inlined (the per-token calls were most of a 100k re-fit's keyphrase time)
    for segment in _BREAK.split(text[:MAX_CHARS]):
        run: list[tuple[str, str, str]] = []
        for tok in _WORD.findall(segment):
            low = tok.lower()
            if banned and low.replace("ё", "е") in banned:
                w = None
            elif (w := WORDS.get(low, _MISSING)) is _MISSING:
                w = WORDS[low] = _analyse_word(low)
            if w is None:
                if len(run) > 1:  # shorter runs hold no phrase
                    _emit(run, sizes, out, nouns)
                run = []
            else:
                run.append(w)
        if len(run) > 1:
            _emit(run, sizes, out, nouns)
    return out


def _emit(
    run: list[tuple[str, str, str]], sizes: tuple[int, ...], out: dict[str, str], nouns: bool | None = None
) -> None:
    """The phrases of one run of content words into ``out`` (``nouns``: Russian
    phrases need a noun, i.e. pymorphy3 is installed; looked up when None)."""
    if nouns is None:
        nouns = _morph() is not None
    for n in sizes:
        for i in range(len(run) - n + 1):
            part = run[i : i + n]
            keys = [p[0] for p in part]
            if len(set(keys)) < n:  # "very very", "заказ заказ"
                continue
            if _CYRILLIC.search(part[0][1]):
                if nouns and not any(p[2] == "NOUN" for p in part):
                    continue
            elif part[-1][1].endswith("ly"):
                continue
            out.setdefault(" ".join(keys), " ".join(p[1] for p in part))


def keyphrases(
    docs_by_class: Mapping[int, Sequence[str]],
    top_n: int = 10,
    banned: frozenset[str] = frozenset(),
    min_share: float = 0.03,
    max_spread: float = 0.5,
) -> dict[int, list[str]]:
    """Top 2-3-word keyphrases per class by class-based TF-IDF (as ctfidf_keywords).

    A phrase counts once per post and must occur in 2+ posts and in at least
    `min_share` of the class's posts. Phrases found in more than `max_spread` of
    the classes (when there are 4+) are template text or boilerplate, not what a
    class is about. A 2-word phrase inside a chosen 3-word one (or the reverse)
    is not listed twice. `banned`: folded words never part of a phrase (company
    names). Classes with a negative id take part in the frequencies only."""
    counts: dict[int, Counter[str]] = {}
    surfaces: dict[int, dict[str, dict[str, int]]] = {}
    for c, docs in docs_by_class.items():
        cnt: Counter[str] = Counter()
        surf: dict[str, dict[str, int]] = {}
        for doc in docs:
            _count(cnt, surf, _phrases(doc, banned))
        counts[c], surfaces[c] = cnt, surf
    total: Counter[str] = Counter()
    spread: Counter[str] = Counter()
    for cnt in counts.values():
        total.update(cnt)
        spread.update(k for k, n in cnt.items() if n >= 2)
    n_classes = len(counts)
    avg = np.mean([sum(cnt.values()) for cnt in counts.values()]) if counts else 0.0
    out: dict[int, list[str]] = {}
    for c, cnt in counts.items():
        if c < 0:
            continue
        n_docs = len(docs_by_class[c])
        need = max(2, int(np.ceil(min_share * n_docs))) if n_docs >= 2 else 1
        size = sum(cnt.values()) or 1
        scored = sorted(
            (
                ((n / size) * np.log1p(avg / total[k]) * (1 + 0.25 * k.count(" ")), k)
                for k, n in cnt.items()
                if n >= need and not (n_classes >= 4 and spread[k] > max_spread * n_classes)
            ),
            reverse=True,
        )
        chosen: list[str] = []
        for _, k in scored:
            if any(k in o or o in k for o in chosen):
                continue
            chosen.append(k)
            if len(chosen) >= top_n:
                break
        out[c] = [_most_common(surfaces[c][k]) for k in chosen]
    return out


def phrase_label(phrases: list[str], script: re.Pattern[str], n: int = 2) -> str:
    """'Credit report, late payments' from the top keyphrases, preferring those in
    the label's own script (no translation: an English-only cluster gets English
    phrases in its Russian label rather than none)."""
    own = [p for p in phrases if script.search(p)]
    if 2 * len(own) < len(phrases[:5]):  # a Russian cluster's English label: its own top phrases
        own = []
    # phrases wholly in the script first: "Зарплатную карту" before "Карту union"
    other = _CYRILLIC if script is _LATIN else _LATIN
    own = [p for p in own if not other.search(p.lower())] + [p for p in own if other.search(p.lower())]
    picked = (own or phrases)[:n]
    return ", ".join(picked).capitalize() if picked else ""


def banned_words(names: Sequence[str], is_common=lambda w: False) -> frozenset[str]:
    """Folded words of company names and aliases that must not name an incident
    type: every word of a one-word name, and the uncommon words of longer ones
    ("Titlemax", "Navient"; not "credit" of "Home Credit")."""
    out: set[str] = set()
    for name in names:
        words = [w.lower().replace("ё", "е") for w in _WORD.findall(name)]
        for w in words:
            if len(w) >= 3 and (len(words) == 1 or not is_common(w)):
                out.add(w)
    return frozenset(out)


# -- seed types --


@dataclass(slots=True)
class TaxonomyPrototype:
    """A seed type with its prototype (the unit mean embedding of its examples),
    its pack and the calibrated cosine a post needs to get it."""

    key: str
    label_en: str
    label_ru: str
    vector: np.ndarray
    pack: str = "any"
    min_sim: float = 0.5


# never below / above these, whatever the examples say (few examples are noisy)
CALIBRATION_FLOOR = 0.30
CALIBRATION_CEIL = 0.60


def calibrate(example_vectors: list[np.ndarray]) -> list[float]:
    """Per type (a list of unit example vectors per type): the cosine threshold
    that best separates its own examples, each held out from the prototype,
    from every other type's examples (Youden's J over the observed values)."""
    protos = [_unit(v.mean(axis=0)) for v in example_vectors]
    out = []
    for t, ex in enumerate(example_vectors):
        n = len(ex)
        if n >= 2:
            loo = (ex.sum(axis=0)[None, :] - ex) / (n - 1)
            pos = np.einsum("ij,ij->i", ex, loo / np.linalg.norm(loo, axis=1, keepdims=True))
        else:
            pos = np.ones(1)
        others = [v for j, v in enumerate(example_vectors) if j != t]
        if not others:  # nothing to tell it from: as close as its least typical example
            out.append(float(np.clip(pos.min(), CALIBRATION_FLOOR, CALIBRATION_CEIL)))
            continue
        neg = np.vstack(others) @ protos[t]
        cands = np.unique(np.concatenate([pos, neg]))
        j = [(pos >= c).mean() - (neg >= c).mean() for c in cands]
        best = float(cands[int(np.argmax(j))])
        # halfway to the highest negative below it: a margin against noise
        below = neg[neg < best]
        thr = (best + float(below.max())) / 2 if len(below) else best
        out.append(float(np.clip(thr, CALIBRATION_FLOOR, CALIBRATION_CEIL)))
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / (np.linalg.norm(v) or 1.0)).astype(np.float32)


def taxonomy_prototypes(types: Sequence[IncidentType], embedder: Embedder) -> list[TaxonomyPrototype]:
    """From indexer.taxonomy.load_taxonomy() entries and the embedder of the posts:
    one prototype per type, its threshold calibrated on the examples."""
    if not types:
        return []
    flat = [e for t in types for e in t.examples]
    vecs = np.asarray(embedder.encode(flat), dtype=np.float32)
    per_type, i = [], 0
    for t in types:
        per_type.append(vecs[i : i + len(t.examples)])
        i += len(t.examples)
    thresholds = calibrate(per_type)
    return [
        TaxonomyPrototype(t.key, t.label_en, t.label_ru, _unit(v.mean(axis=0)), getattr(t, "pack", "any"), thr)
        for t, v, thr in zip(types, per_type, thresholds)
    ]


def pack_centroids(protos: Sequence[TaxonomyPrototype]) -> tuple[list[str], np.ndarray]:
    """(pack names, unit mean of each pack's prototypes); the 'any' pack has none."""
    names = [p for p in dict.fromkeys(t.pack for t in protos) if p != "any"]
    if not names:
        return [], np.zeros((0, 0), dtype=np.float32)
    mat = np.vstack([_unit(np.mean([t.vector for t in protos if t.pack == p], axis=0)) for p in names])
    return names, mat


def choose_packs(
    vectors: np.ndarray, industries: Sequence[str | None], protos: Sequence[TaxonomyPrototype]
) -> list[str | None]:
    """Pack per post: its company's industry when a pack has that name, else the
    pack whose centroid is nearest to the post's embedding."""
    names, mat = pack_centroids(protos)
    known = set(names)
    out: list[str | None] = [ind if ind in known else None for ind in industries]
    todo = [i for i, p in enumerate(out) if p is None]
    if todo and names:
        best = (np.asarray(vectors)[todo] @ mat.T).argmax(axis=1)
        for i, b in zip(todo, best):
            out[i] = names[int(b)]
    return out


# A post is longer and says more than one example phrasing, so its cosine to a
# prototype runs lower than the examples' own (0.15-0.25 lower on CFPB narratives
# and the seed posts). Posts inside a cluster (members' votes, groups split off
# to another seed type) get POST_SLACK; a post no cluster took gets
# OUTLIER_SLACK: the seed type is its only chance of a type. Known weakness: on
# bank reviews a broad type ("fraud", near every card review) still takes
# whole clusters at 0.15; 0.0 avoids that but the demo shops lose seed types.
POST_SLACK = 0.15
OUTLIER_SLACK = 0.25


def seed_types(
    vectors: np.ndarray, packs: Sequence[str | None], protos: Sequence[TaxonomyPrototype], slack: float = POST_SLACK
) -> tuple[list[int | None], np.ndarray]:
    """(index into protos or None, cosine) per post: the closest type of the
    post's pack (or of the 'any' pack) when it clears that type's threshold
    less `slack`."""
    n = len(vectors)
    if not n or not protos:
        return [None] * n, np.zeros(n, dtype=np.float32)
    sims = np.asarray(vectors, dtype=np.float32) @ np.vstack([t.vector for t in protos]).T
    tpack = np.array([t.pack for t in protos], dtype=object)
    allowed = (tpack[None, :] == np.array(list(packs), dtype=object)[:, None]) | (tpack == "any")[None, :]
    masked = np.where(allowed, sims, -np.inf)
    best = masked.argmax(axis=1)
    top = masked[np.arange(n), best]
    need = np.array([max(CALIBRATION_FLOOR, t.min_sim - slack) for t in protos], dtype=np.float32)[best]
    return [int(b) if s >= m else None for b, s, m in zip(best, top, need)], top


@dataclass(slots=True)
class Description:
    keywords: list[str]
    label_en: str
    label_ru: str
    taxonomy_key: str | None
    taxonomy_sim: float = 0.0


# with members given, at least this share of them must get the cluster's seed type
# on their own: a centroid near a broad type ("fraud" near every card review) is not enough
SEED_MEMBER_SHARE = 0.15


def describe(
    keywords: list[str],
    centroid: np.ndarray,
    taxonomy: Sequence[TaxonomyPrototype],
    min_sim: float | None = None,
    member_packs: Sequence[str | None] | None = None,
    member_vectors: np.ndarray | None = None,
) -> Description:
    """Labels: a seed type's when it really fits the cluster, otherwise built
    from the keyphrases. It fits when it is the type of the cluster's pack (its
    members' most common; 'any' types always qualify) nearest to the centroid
    (the unit mean of the members' embeddings, like a prototype is of its
    examples) and the centroid clears the type's calibrated threshold (or
    `min_sim`, when given), and, with `member_vectors`, SEED_MEMBER_SHARE of the
    members clear it on their own (represent.seed_types)."""
    if taxonomy:
        allowed = list(taxonomy)
        if member_packs:
            pack = Counter(p for p in member_packs if p).most_common(1)
            allowed = [t for t in taxonomy if t.pack == "any" or (pack and t.pack == pack[0][0])]
        if allowed:
            sims = np.array([float(centroid @ t.vector) for t in allowed])
            best = int(sims.argmax())
            t = allowed[best]
            fits = sims[best] >= (t.min_sim if min_sim is None else min_sim)
            if fits and member_vectors is not None and len(member_vectors):
                own = list(member_packs) if member_packs else [t.pack] * len(member_vectors)
                got, _ = seed_types(member_vectors, own, taxonomy)
                fits = np.mean([g is not None and taxonomy[g].key == t.key for g in got]) >= SEED_MEMBER_SHARE
            if fits:
                return Description(keywords, t.label_en, t.label_ru, t.key, float(sims[best]))
    en = phrase_label(keywords, _LATIN) or "Unlabelled incident type"
    ru = phrase_label(keywords, _CYRILLIC) or "Тип инцидента без названия"
    return Description(keywords, en, ru, None)


def disambiguate(descriptions: dict[int, Description]) -> None:
    """Clusters that matched the same taxonomy entry keep its key, but all but
    the closest one get their top keyphrase appended so the UI can tell them apart."""
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
