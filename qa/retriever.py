"""Retrieval: dense (FAISS) and keyword (FTS5 BM25) candidates fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.embedder import Embedder
from index.neardup import SAME_STORY, containment, shingles
from index.reader import IndexReader
from qa.answer import Hit, Question


@dataclass(frozen=True)
class RetrievalSettings:
    candidates: int = 50  # from each of dense and keyword search, before fusion
    keyword_weight: float = 1.0  # relative weight of the BM25 ranking in the fusion
    rrf_k: int = 10  # the constant of reciprocal rank fusion: lower trusts top ranks more


class Retriever:
    """Question -> ranked [Hit]."""

    def __init__(
        self, reader: IndexReader, embedder: Embedder, settings: RetrievalSettings | None = None
    ) -> None:
        self.reader = reader
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()

    def search(self, question: Question, query: np.ndarray | None = None) -> list[Hit]:
        """The top `question.k` distinct passages; `query` is the question's vector when known."""
        if query is None:
            query = self.embedder.embed_query(question.text)
        s = self.settings
        n = max(s.candidates, question.k)
        fused: dict[int, float] = {}
        for weight, ranking in (
            (1.0, self.reader.dense(query, n)),
            (s.keyword_weight, self.reader.keyword(question.text, n)),
        ):
            for rank, (cid, _) in enumerate(ranking):
                fused[cid] = fused.get(cid, 0.0) + weight / (s.rrf_k + rank + 1)
        order = sorted(fused, key=lambda cid: -fused[cid])
        # A concurrent ingest may have removed a chunk since the vectors were loaded; and a
        # near duplicate gives up its slot, so look a little further than k.
        chunks = self.reader.chunks(order[: question.k * 2 + 5])
        present = [cid for cid in order if cid in chunks]
        if not present:
            return []
        cosines = dict(zip(present, self.reader.vectors_of(present) @ query, strict=True))
        hits = [Hit(chunk=chunks[c], score=fused[c], cosine=float(cosines[c])) for c in present]
        return distinct(hits, question.k)


def distinct(hits: Sequence[Hit], limit: int) -> list[Hit]:
    """The first `limit` hits, passing over any whose text nearly repeats one already kept
    (the same text in two articles, heavily overlapping chunks): shingle containment."""
    kept: list[tuple[Hit, frozenset[int]]] = []
    for hit in hits:
        if len(kept) >= limit:
            break
        mine = shingles(hit.chunk.text)
        if any(containment(mine, theirs) >= SAME_STORY for _, theirs in kept):
            continue
        kept.append((hit, mine))
    return [h for h, _ in kept]
