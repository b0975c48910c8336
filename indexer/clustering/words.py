"""Per-word analyses the incident model reads texts with, cached by word.

A fit at 100k posts meets ~150k distinct words; stemming each one (Snowball,
pure Python) and lemmatising the Russian ones (pymorphy3) is seconds of every
run, and the answers only change with those libraries. Both caches are plain
dicts here; the indexer keeps them in the store between runs (export() /
restore(), keyed by version()).
"""

from __future__ import annotations

import json
import zlib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version

from ..analysis import stem
from .stopwords import is_filler

# Bump when what stem_of() or represent._word() give for a word changes.
WORDS_VERSION = 1
MAX_WORDS = 600_000  # per cache: beyond this the kept copy starts afresh (bounded blob)

STEMS: dict[str, str | None] = {}  # lower-cased word -> Snowball stem, None for a stop or filler word
WORDS: dict[str, tuple[str, str, str] | None] = {}  # lower-cased word -> represent._word's answer


def stem_of(word: str) -> str | None:
    """The stem of a lower-cased word, None for a stop or filler word."""
    s = STEMS.get(word, "")
    if s == "":
        w2 = word.replace("ё", "е")
        s = STEMS[word] = None if is_filler(w2) else stem(w2)
    return s


def version() -> str:
    """What the cached answers depend on: this module's rules and the libraries' versions."""
    libs = []
    for name in ("snowballstemmer", "pymorphy3", "pymorphy3-dicts-ru"):
        try:
            libs.append(f"{name}={_package_version(name)}")
        except PackageNotFoundError:
            libs.append(f"{name}=none")
    return f"v{WORDS_VERSION}-" + "-".join(libs)


def export() -> bytes:
    """Both caches, compressed (at most MAX_WORDS entries each)."""
    doc = {
        "stems": dict(list(STEMS.items())[-MAX_WORDS:]),
        "words": {w: list(a) if a else None for w, a in list(WORDS.items())[-MAX_WORDS:]},
    }
    return zlib.compress(json.dumps(doc, ensure_ascii=False).encode("utf-8"), 1)


def restore(blob: bytes) -> int:
    """Add the answers export() kept (never overriding ones this process
    computed); the number of words added. ValueError for anything else."""
    try:
        doc = json.loads(zlib.decompress(blob))
        stems = {str(w): (None if s is None else str(s)) for w, s in doc["stems"].items()}
        words = {str(w): (None if a is None else (str(a[0]), str(a[1]), str(a[2]))) for w, a in doc["words"].items()}
    except (zlib.error, json.JSONDecodeError, KeyError, TypeError, IndexError, AttributeError) as e:
        raise ValueError(f"not a word cache ({type(e).__name__}: {e})") from e
    before = len(STEMS) + len(WORDS)
    for w, s in stems.items():
        STEMS.setdefault(w, s)
    for w, a in words.items():
        WORDS.setdefault(w, a)
    return len(STEMS) + len(WORDS) - before


def size() -> int:
    return len(STEMS) + len(WORDS)


def trim() -> None:
    """Start afresh when a long-lived process (the scheduler) has gathered more than the kept copy holds."""
    if len(STEMS) > 2 * MAX_WORDS or len(WORDS) > 2 * MAX_WORDS:
        STEMS.clear()
        WORDS.clear()
