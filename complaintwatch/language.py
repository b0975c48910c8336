"""Language identification (py3langid: numpy port of langid.py, model bundled)."""

from __future__ import annotations

import re

import py3langid
from py3langid.langid import MODEL_FILE, LanguageIdentifier

_CYR = re.compile(r"[\u0400-\u04FF]")
_LAT = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> str | None:
    """ISO 639-1 code, or None for text with too little to go on."""
    sample = text[:3000]
    letters = len(_CYR.findall(sample)) + len(_LAT.findall(sample))
    if letters < 3:
        return None
    if letters < 25:  # too short for n-gram models: go by script
        return "ru" if len(_CYR.findall(sample)) > len(_LAT.findall(sample)) else "en"
    lang, _ = py3langid.classify(sample)
    return lang


_RANKER: LanguageIdentifier | None = None


def language_scores(text: str) -> dict[str, float]:
    """Probability per language for `text` (py3langid, normalised so they sum to 1;
    calibrated by length, so a short text spreads its mass over many languages)."""
    global _RANKER
    if _RANKER is None:
        _RANKER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return dict(_RANKER.rank(text[:3000]))
