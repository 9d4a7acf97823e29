"""Retrieval: dense (FAISS) and keyword (FTS5 BM25) candidates fused by reciprocal rank."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.embedder import Embedder
from index.reader import IndexReader
from qa.answer import Hit, Question

RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al.)


@dataclass(frozen=True)
class RetrievalSettings:
    candidates: int = 50  # from each of dense and keyword search, before fusion
    keyword_weight: float = 1.0  # relative weight of the BM25 ranking in the fusion


class Retriever:
    """Question -> ranked [Hit]."""

    def __init__(
        self, reader: IndexReader, embedder: Embedder, settings: RetrievalSettings | None = None
    ) -> None:
        self.reader = reader
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()

    def search(self, question: Question, query: np.ndarray | None = None) -> list[Hit]:
        """The top `question.k` passages; `query` is the question's vector when known."""
        if query is None:
            query = self.embedder.embed_query(question.text)
        n = max(self.settings.candidates, question.k)
        dense = self.reader.dense(query, n)
        keyword = self.reader.keyword(question.text, n)
        fused: dict[int, float] = {}
        for rank, (cid, _) in enumerate(dense):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        w = self.settings.keyword_weight
        for rank, (cid, _) in enumerate(keyword):
            fused[cid] = fused.get(cid, 0.0) + w / (RRF_K + rank + 1)
        order = sorted(fused, key=lambda cid: -fused[cid])
        # A concurrent ingest may have removed a chunk since the vectors were loaded.
        chunks = self.reader.chunks(order[: question.k * 2])
        top = [cid for cid in order if cid in chunks][: question.k]
        if not top:
            return []
        cosines = self.reader.vectors_of(top) @ query
        return [
            Hit(chunk=chunks[cid], score=fused[cid], cosine=float(cos))
            for cid, cos in zip(top, cosines, strict=True)
        ]
