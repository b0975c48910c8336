"""The user-editable seed taxonomy of incident types, in packs per industry (TOML).

The built-in packs live in indexer/data/taxonomy/ (ecommerce, banking,
telecom, delivery, travel: the industries of the company alias table). A pack
file has a ``[pack]`` table (key, label_en, label_ru) and one
``[types.<key>]`` table per incident type with labels and a one-line
description in English and Russian, and example phrasings in both languages.

A type's prototype is the mean embedding of its examples, so it works
cross-lingually; a post is only offered the types of its pack (its company's
industry, or else the pack nearest to its text), and gets one only when it is
about as close to it as the type's own examples are
(indexer.clustering.represent calibrates that threshold per type).

``--taxonomy FILE`` (or a folder of pack files) replaces the built-in packs. A
file without ``[pack]`` is the old flat format (``[key]`` tables with labels and
examples), and forms one pack that applies to every post.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

# the pack of a flat taxonomy file: offered to every post, whatever its industry
ANY_PACK = "any"


@dataclass(slots=True)
class IncidentType:
    key: str
    label_en: str
    label_ru: str
    examples: list[str] = field(default_factory=list)
    pack: str = ANY_PACK
    description_en: str = ""
    description_ru: str = ""


def _parse(text: str, source: str) -> list[IncidentType]:
    data = tomllib.loads(text)
    if "pack" not in data:  # flat format: every table is a type
        tables, pack = data, ANY_PACK
    else:
        pack = str(data["pack"].get("key") or Path(source).stem)
        tables = data.get("types", {})
    out = []
    for k, v in tables.items():
        if not isinstance(v, dict):
            continue
        examples = list(v.get("examples", []))
        if not examples:
            raise ValueError(f"{source}: incident type {k!r} has no examples")
        out.append(
            IncidentType(
                key=k,
                label_en=v["label_en"],
                label_ru=v["label_ru"],
                examples=examples,
                pack=pack,
                description_en=v.get("description_en", ""),
                description_ru=v.get("description_ru", ""),
            )
        )
    return out


def load_taxonomy(path: Path | str | None = None) -> list[IncidentType]:
    """All incident types of the built-in packs, or of a file or a folder of pack files."""
    if path is None:
        folder = resources.files("indexer").joinpath("data/taxonomy")
        files = sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)
        types = [t for f in files for t in _parse(f.read_text(encoding="utf-8"), f.name)]
    else:
        p = Path(path)
        paths = sorted(p.glob("*.toml")) if p.is_dir() else [p]
        types = [t for f in paths for t in _parse(f.read_text(encoding="utf-8"), str(f))]
    seen: set[str] = set()
    for t in types:
        if t.key in seen:
            raise ValueError(f"incident type key {t.key!r} is defined twice")
        seen.add(t.key)
    return types


def packs(types: list[IncidentType]) -> list[str]:
    """The packs of these types, in first-seen order."""
    return list(dict.fromkeys(t.pack for t in types))
