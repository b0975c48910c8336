"""Seed taxonomy of incident types and nearest-prototype assignment.

Each incident type's prototype is the mean embedding of its example phrasings
(in Russian and English, so it works cross-lingually). A post takes the
nearest type if it is close enough and clearly closer than the runner-up;
otherwise it stays an outlier rather than being forced in.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from complaintwatch.models import Incident

from .embedders import Embedder


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


class TaxonomyAssigner:
    def __init__(self, types: list[IncidentType], embedder: Embedder, min_sim: float = 0.35, margin: float = 0.0):
        self.types = types
        self.model_name = embedder.name  # the vectors it can classify
        self.min_sim = min_sim
        self.margin = margin
        protos = []
        for t in types:
            v = embedder.encode(t.examples).mean(axis=0)
            protos.append(v / np.linalg.norm(v))
        self.prototypes = np.vstack(protos).astype(np.float32)

    def incidents(self) -> list[Incident]:
        # ids are 1-based positions in the taxonomy: stable while the file is
        return [
            Incident(id=i + 1, label_en=t.label_en, label_ru=t.label_ru, taxonomy_key=t.key)
            for i, t in enumerate(self.types)
        ]

    def assign(self, vectors: np.ndarray) -> list[int | None]:
        """Incident id per row of unit vectors, None for outliers."""
        if not len(vectors):
            return []
        sims = vectors @ self.prototypes.T
        order = np.argsort(-sims, axis=1)
        best, second = order[:, 0], order[:, 1] if sims.shape[1] > 1 else order[:, 0]
        rows = np.arange(len(vectors))
        ok = (sims[rows, best] >= self.min_sim) & (sims[rows, best] - sims[rows, second] >= self.margin)
        return [int(b) + 1 if k else None for b, k in zip(best, ok)]
