"""Retrieval: dense (FAISS) and keyword (FTS5 BM25) candidates fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import numpy as np

from index.embedder import Embedder
from index.neardup import SAME_STORY, covered, shingles
from index.reader import Reader
from index.records import Scope
from qa.answer import Hit, Question

# Keyword searches of every retriever in the process; a bot's questions are answered one at
# a time per engine, so two threads are ample.
_KEYWORD_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="keyword")


@dataclass(frozen=True)
class RetrievalSettings:
    candidates: int = 50  # from each of dense and keyword search, before fusion
    keyword_weight: float = 1.0  # relative weight of the BM25 ranking in the fusion
    rrf_k: int = 10  # the constant of reciprocal rank fusion: lower trusts top ranks more
    # A prior for newer articles, in the fusion: a passage gains recency_weight times its
    # article's freshness (1 on the day asked, halving every recency_half_life days; 0
    # undated). The fused score of a first-ranked passage is 1 / (rrf_k + 1) per ranking.
    # Chosen on a news development set (docs/quality.md, "News"): 0.2 and 30 days gained
    # 0.03 in hit@5 and ans@5 over none; 0.1 to 0.3 and 14 to 30 days all gave about that.
    recency_weight: float = 0.2
    recency_half_life: float = 30.0


class Retriever:
    """Question -> ranked [Hit]."""

    def __init__(
        self, reader: Reader, embedder: Embedder, settings: RetrievalSettings | None = None
    ) -> None:
        self.reader = reader
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()

    def embed_and_search(
        self,
        question: Question,
        scope: Scope | None = None,
        query: np.ndarray | None = None,
        today: date | None = None,
    ) -> tuple[np.ndarray, list[Hit]]:
        """(the question's vector, its top `question.k` distinct passages); `query` is the
        question's vector when known, `today` the day the recency prior counts from (None:
        no prior). A `scope` (dates, source) applies inside both searches, so a filtered
        question still gets k passages when k exist. Dense and keyword results are fused by
        reciprocal rank: here (`_fused`), or in the backend where it fuses them itself
        (Milvus's RRFRanker, the same formula).
        """
        s = self.settings
        n = max(s.candidates, question.k)
        if self.reader.fuses and s.keyword_weight == 1.0:
            # Milvus fuses both searches itself, by the same reciprocal rank, in one call.
            if query is None:
                query = self.embedder.embed_query(question.text)
            found = self.reader.hybrid(query, question.text, n, scope, s.rrf_k)
            fused = {m.id: m.score for m in found}
        else:
            query, fused = self._fused(question, n, scope, query)
        if s.recency_weight > 0 and today is not None and fused:
            # The prior needs only each candidate's day, from the reader's table: the
            # chunks themselves are fetched for the few that can still be shown.
            ids = list(fused)
            ages = self.reader.ages(ids, today)
            fresh = np.where(np.isnan(ages), 0.0, 0.5 ** (ages / s.recency_half_life))
            for cid, gain in zip(ids, s.recency_weight * fresh, strict=True):
                fused[cid] += float(gain)
        order = sorted(fused, key=lambda cid: -fused[cid])
        # A concurrent ingest may have removed a chunk since the vectors were loaded; and a
        # near duplicate gives up its slot: so look further than k.
        chunks = self.reader.chunks(order[: question.k * 2 + 5])
        present = [cid for cid in order if cid in chunks]
        if not present:
            return query, []
        cosines = dict(zip(present, self.reader.vectors_of(present) @ query, strict=True))
        hits = [Hit(chunk=chunks[c], score=fused[c], cosine=float(cosines[c])) for c in present]
        return query, distinct(hits, question.k)

    def _fused(
        self, question: Question, n: int, scope: Scope | None, query: np.ndarray | None
    ) -> tuple[np.ndarray, dict[int, float]]:
        """(the question's vector, chunk id -> fused score): the top `n` of dense and of
        keyword search fused by reciprocal rank. Keyword search needs no vector, so it runs
        on another thread while the question is embedded and searched densely: SQLite,
        OpenVINO and FAISS let go of the GIL, and the two take a core each."""
        s = self.settings
        keyword = _KEYWORD_THREADS.submit(self.reader.keyword, question.text, n, scope)
        try:
            if query is None:
                query = self.embedder.embed_query(question.text)
            dense = self.reader.dense(query, n, scope)
        finally:
            words = keyword.result()  # never left running, even when embedding failed
        fused: dict[int, float] = {}
        for weight, ranking in ((1.0, dense), (s.keyword_weight, words)):
            for rank, match in enumerate(ranking):
                fused[match.id] = fused.get(match.id, 0.0) + weight / (s.rrf_k + rank + 1)
        return query, fused


def distinct(hits: Sequence[Hit], limit: int) -> list[Hit]:
    """The first `limit` hits, passing over any whose text is mostly in one already kept
    (the same text in two articles, heavily overlapping chunks).

    Only the passage's own share counts (`covered`): a short kept passage, such as the tail
    chunk of a republished copy, must not push out the whole original that holds it.
    """
    kept: list[tuple[Hit, frozenset[int]]] = []
    for hit in hits:
        if len(kept) >= limit:
            break
        mine = shingles(hit.chunk.text)
        if any(covered(mine, theirs) >= SAME_STORY for _, theirs in kept):
            continue
        kept.append((hit, mine))
    return [h for h, _ in kept]
