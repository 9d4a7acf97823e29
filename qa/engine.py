"""The answer API that the CLI and the bot share: open an index once, ask many times."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from index.embedder import Embedder, SentenceTransformerEmbedder
from index.errors import IndexMismatch
from index.reader import IndexReader, IndexStats
from index.settings import Settings
from qa.abstain import AbstentionSettings, Decision, decide
from qa.answer import Answer, Passage, Question
from qa.quotes import QuoteSettings, SentenceVectors, order_passages, pick_quotes, score_sentences
from qa.retriever import RetrievalSettings, Retriever

log = logging.getLogger(__name__)


def load_embedder(settings: Settings) -> Callable[[str], Embedder]:
    """A factory of the real embedder for a model name, with the settings' dtype and batch."""

    def make(model: str) -> Embedder:
        return SentenceTransformerEmbedder(
            model, dtype=settings.dtype, batch_size=settings.batch_size
        )

    return make


class Engine:
    """Answers questions from one index folder; safe to share between threads.

    Before each question it checks for a newer committed index and switches to it, so a
    long-running bot sees what `qa ingest` or `qa rebuild` wrote in another process.
    """

    def __init__(
        self,
        settings: Settings,
        make_embedder: Callable[[str], Embedder] | None = None,
        *,
        retrieval: RetrievalSettings | None = None,
        quotes: QuoteSettings | None = None,
        abstention: AbstentionSettings | None = None,
    ) -> None:
        self.settings = settings
        self._make_embedder = make_embedder or load_embedder(settings)
        self._lock = threading.Lock()
        self.reader = IndexReader(settings.index_dir)
        self.embedder = self._embedder_for(self.reader.manifest.model)
        self.retriever = Retriever(self.reader, self.embedder, retrieval)
        self.quote_settings = quotes or QuoteSettings()
        self.abstention = abstention or AbstentionSettings()
        self._sentences = SentenceVectors(self.embedder, self.quote_settings.cache_size)

    def _embedder_for(self, model: str) -> Embedder:
        if self.settings.model is not None:
            self.reader.manifest.check_model(self.settings.model, self.settings.index_dir)
        embedder = self._make_embedder(model)
        if embedder.dimension != self.reader.manifest.dimension:
            raise IndexMismatch(
                f"the model {model!r} gives {embedder.dimension}-dimensional vectors but the index "
                f"in {self.settings.index_dir} holds {self.reader.manifest.dimension}; "
                f"run `qa rebuild --index {self.settings.index_dir}`"
            )
        return embedder

    def refresh(self) -> None:
        """Follow a newer committed index, reloading the model if a rebuild changed it."""
        if self.reader.refresh() and self.reader.manifest.model != self.embedder.name:
            self.embedder = self._embedder_for(self.reader.manifest.model)
            self.retriever = Retriever(self.reader, self.embedder, self.retriever.settings)
            self._sentences = SentenceVectors(self.embedder, self.quote_settings.cache_size)

    def ask(self, text: str, k: int = 5) -> Answer:
        """The answer to one question: up to three quotes and the top `k` passages.

        When nothing answers, `abstained` is true and the closest passages are still given.
        """
        return self.ask_with_evidence(text, k)[0]

    def ask_with_evidence(self, text: str, k: int = 5) -> tuple[Answer, Decision]:
        """`ask`, with the abstention decision and the evidence it was made on (for qa eval)."""
        question = Question.parse(text, k)
        # Quotes come from the same top passages whatever `k` is asked for.
        wanted = replace(question, k=max(question.k, self.quote_settings.passages))
        with self._lock:
            self.refresh()
            query = self.embedder.embed_query(question.text)
            hits = self.retriever.search(wanted, query)
            scored = score_sentences(question, query, hits, self._sentences, self.quote_settings)
            hits = order_passages(hits, scored)[: question.k]
            decision = decide(scored, self.abstention)
            quotes = [] if decision.abstained else pick_quotes(scored, self.quote_settings)
        answer = Answer(
            question=question.text,
            abstained=decision.abstained,
            quotes=tuple(quotes),
            passages=tuple(Passage.of(h) for h in hits),
        )
        return answer, decision

    def stats(self) -> IndexStats:
        with self._lock:
            self.refresh()
            return self.reader.stats()

    def close(self) -> None:
        self.reader.close()
