"""Language identification (py3langid: numpy port of langid.py, model bundled)."""

from __future__ import annotations

import re

import py3langid

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
