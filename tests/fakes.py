"""Test fakes that are real subclasses of the project's seams."""

from __future__ import annotations

import re
import sqlite3
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from index.backend import Match
from index.embedder import Embedder, normalise

_WORD = re.compile(r"\w+")


class HashingEmbedder(Embedder):
    """Deterministic bag-of-words vectors (crc32 buckets); counts what it was asked to embed.

    Texts sharing words get similar vectors, which is enough for logic tests; quality tests
    use the real model.
    """

    def __init__(self, dimension: int = 64, name: str = "test/hashing", max_tokens: int = 254):
        self.name = name
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.calls: list[int] = []  # number of texts in each embed_batch call

    @property
    def embedded(self) -> int:
        return sum(self.calls)

    def embed_batch(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.calls.append(len(texts))
        return self._hash(texts)

    def embed_with_sentences(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        *,
        progress: bool = False,
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """Sentence rows come with the texts' pass, as the real model's do: not counted."""
        rows: list[np.ndarray | None] = [
            self._hash([t[a:b] for a, b in s]) for t, s in zip(texts, spans, strict=True)
        ]
        return self.embed_batch(texts, progress=progress), rows

    def _hash(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[row, zlib.crc32(word.encode()) % self.dimension] += 1.0
            out[row, zlib.crc32(b"bias") % self.dimension] += 0.01
        return normalise(out)

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        return [[m.span() for m in re.finditer(r"\S+", t)] for t in texts]


def match_ids(matches: Iterable[Match]) -> list[int]:
    """The chunk ids of search results, in their order."""
    return [m.id for m in matches]


def stored_stories(index_dir: Path) -> dict[str, int]:
    """article id -> story id, for every article of an index, read from its store."""
    with sqlite3.connect(index_dir / "store.sqlite3") as db:
        return dict(db.execute("SELECT id, coalesce(story, rowid) FROM articles").fetchall())
