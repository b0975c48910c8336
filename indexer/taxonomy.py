"""The user-editable seed taxonomy of incident types (TOML).

Each type's prototype is the mean embedding of its example phrasings in
Russian and English, so it works cross-lingually; clusters that match one take
its name (indexer.clustering.represent), and outlier posts close to one get it
(indexer.pipeline)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


@dataclass(slots=True)
class IncidentType:
    key: str
    label_en: str
    label_ru: str
    examples: list[str] = field(default_factory=list)


def load_taxonomy(path: Path | str | None = None) -> list[IncidentType]:
    if path is None:
        text = resources.files("indexer").joinpath("data/incident_types.toml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return [
        IncidentType(key=k, label_en=v["label_en"], label_ru=v["label_ru"], examples=list(v.get("examples", [])))
        for k, v in data.items()
    ]
