"""The answer API that the CLI and the bot share: open an index once, ask many times."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import numpy as np

from index import models
from index.embedder import Embedder
from index.errors import IndexMismatch
from index.reader import IndexStats, Reader, open_reader
from index.settings import Settings
from qa.abstain import AbstentionSettings, Decision, decide
from qa.answer import Answer, Citation, Hit, Question, Quote
from qa.filters import FilterError, Filters, has_keys, written_phrase
from qa.filters import parse as parse_filters
from qa.quotes import (
    QuoteSettings,
    SentenceVectors,
    pick_quotes,
    quote_of,
    ranked_passages,
    score_sentences,
)
from qa.recency import RECENT_WEIGHT, by_date, gains
from qa.retriever import RetrievalSettings, Retriever
from qa.timeline import Timeline, oldest_first, one_per_story

log = logging.getLogger(__name__)


class Engine:
    """Answers questions from one index folder; safe to share between threads, which it
    answers at once (no lock is held around a question).

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
        notify: Callable[[str], None] | None = None,
    ) -> None:
        """`notify` is told of slow first-time work (making the model's export)."""
        self.settings = settings
        self._make_embedder = make_embedder or models.load_embedder(settings, notify=notify)
        self._lock = threading.Lock()
        self.reader: Reader = open_reader(settings)
        self.embedder = self._embedder_for(self.reader.manifest.model)
        self.retriever = Retriever(self.reader, self.embedder, retrieval)
        self.quote_settings = quotes or QuoteSettings()
        self.abstention = abstention or AbstentionSettings()
        self.sentence_vectors = self._sentence_vectors()

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

    def _sentence_vectors(self) -> SentenceVectors:
        def stored(ids: list[int]) -> dict[int, np.ndarray]:
            return self.reader.sentence_vectors(ids)

        return SentenceVectors(self.embedder, self.quote_settings.cache_size, stored)

    def refresh(self) -> None:
        """Follow a newer committed index, reloading the model if a rebuild changed it."""
        if self.reader.refresh() and self.reader.manifest.model != self.embedder.name:
            self.embedder = self._embedder_for(self.reader.manifest.model)
            self.retriever = Retriever(self.reader, self.embedder, self.retriever.settings)
            self.sentence_vectors = self._sentence_vectors()

    def ask(
        self,
        text: str,
        k: int = 5,
        *,
        filters: Filters | None = None,
        recent: bool = False,
        today: date | None = None,
        as_of: date | None = None,
        prior: bool = True,
    ) -> Answer:
        """The answer to one question: up to three quotes and the top `k` passages.

        Filters written in the question ("since:2023-01", "last week") and `filters` (which
        win) limit the articles searched; when a phrase's dates hold no article, the whole
        archive is searched and `widened` names the phrase's filters. Newer articles gain a
        mild prior in retrieval (the settings' recency_weight; `prior=False` turns it off),
        and `recent` (or "recently" in the question) favours them strongly. `as_of` answers
        as on that day: nothing published after it, and "last week", "yesterday" and the
        prior counted from it (`today` alone moves the counting, not the archive). When
        nothing answers, `abstained` is true and the closest passages are still given.
        """
        return self.ask_with_evidence(
            text, k, filters=filters, recent=recent, today=today, as_of=as_of, prior=prior
        )[0]

    def ask_with_evidence(
        self,
        text: str,
        k: int = 5,
        *,
        filters: Filters | None = None,
        recent: bool = False,
        today: date | None = None,
        as_of: date | None = None,
        prior: bool = True,
    ) -> tuple[Answer, Decision]:
        """`ask`, with the abstention decision and the evidence it was made on (for qa eval)."""
        today = as_of or today or date.today()
        asked = Question.parse(text, k).text
        cleaned, written = parse_filters(asked, today)
        applied = replace(
            written.merge(filters or Filters()).ending_by(as_of),
            phrase=written_phrase(asked, cleaned),
        )
        recent = recent or applied.recent
        question = Question.parse(cleaned, k)
        # Quotes come from the same top passages whatever `k` is asked for.
        wanted = replace(question, k=max(question.k, self.quote_settings.passages))
        counted_from = today if prior else None  # the retrieval's recency prior, unless off
        widened = None
        with self.reader.damage():
            retriever, sentences = self._fresh()
            query, hits = retriever.embed_and_search(wanted, applied.scope(), today=counted_from)
            if not hits and not written.empty and not has_keys(text):
                # "in 2015" may be part of the question, not a filter: when the phrase's
                # scope holds nothing, ask again without it, the phrase kept as words, and
                # say so in the answer.
                widened = applied
                applied = (filters or Filters()).ending_by(as_of)
                question = Question.parse(text, k)
                wanted = replace(question, k=wanted.k)
                query, hits = retriever.embed_and_search(
                    wanted, applied.scope(), today=counted_from
                )
            if not hits:
                self._rule_out(applied)
            gained = gains(hits, today, self._quote_recency(recent, prior))
            scored = score_sentences(question, query, hits, sentences, self.quote_settings, gained)
            scored = by_date(scored, today)
            passages = ranked_passages(hits, scored, question.k, self.quote_settings.per_article)
            decision = decide(scored, self.abstention)
            quotes = [] if decision.abstained else pick_quotes(scored, self.quote_settings)
            quotes = self._also_reported(quotes, hits)  # all hits: a quote may lie past k
        answer = Answer(
            question=question.text,
            abstained=decision.abstained,
            quotes=tuple(quotes),
            passages=tuple(passages),
            filters=applied.describe(),
            applied=applied,
            widened=widened,
        )
        return answer, decision

    def timeline(
        self,
        topic: str,
        limit: int = 20,
        *,
        filters: Filters | None = None,
        today: date | None = None,
    ) -> Timeline:
        """The quotes that answer `topic`, one per story, oldest first (at most `limit`)."""
        today = today or date.today()
        asked = Question.parse(topic).text
        cleaned, written = parse_filters(asked, today)
        applied = replace(
            written.merge(filters or Filters()), phrase=written_phrase(asked, cleaned)
        )
        question = Question.parse(cleaned, k=max(3 * limit, 30))
        wide = replace(self.quote_settings, passages=question.k)
        with self.reader.damage():
            retriever, sentences = self._fresh()
            # No recency prior: a timeline spans the years alike.
            query, hits = retriever.embed_and_search(question, applied.scope())
            if not hits:
                self._rule_out(applied)
            scored = score_sentences(question, query, hits, sentences, wide)
            best = one_per_story(scored, self.abstention.min_support)[:limit]
            quotes = self._also_reported([quote_of(c) for c in best], hits)
        return Timeline(
            question.text, applied.describe(), tuple(oldest_first(quotes)), applied=applied
        )

    def _fresh(self) -> tuple[Retriever, SentenceVectors]:
        """The retriever and sentence vectors of the newest committed generation. Only the
        switch to it is one thread at a time: questions are answered at once, each on its
        own thread (the bot's), sharing the reader, the model and the caches."""
        with self._lock:
            self.refresh()
            return self.retriever, self.sentence_vectors

    def _quote_recency(self, recent: bool, prior: bool) -> float:
        """How much a sentence gains for its article's freshness: --recent's strong weight,
        else the mild default prior's, else nothing."""
        if recent:
            return RECENT_WEIGHT
        return self.quote_settings.recency_weight if prior else 0.0

    def _rule_out(self, applied: Filters) -> None:
        """After a search found nothing: FilterError when the filters alone leave no article
        (since after until, a source that no article has), so the user hears why."""
        applied.check()
        source = applied.source
        if source and not self.reader.source_known(source):
            raise FilterError(f"no article's source or URL matches {source!r}")

    def _also_reported(self, quotes: list[Quote], hits: list[Hit]) -> list[Quote]:
        """Each quote with the other articles of its story, so a story is quoted once, then
        the aliases of its own article (the same text read under other ids)."""
        story = {h.chunk.id: h.chunk.story for h in hits}
        wanted = {story.get(q.chunk_id) for q in quotes} - {None}
        members = self.reader.story_members(s for s in wanted if s is not None)
        aliases = self.reader.aliases_of(q.article_id for q in quotes)
        out = []
        for q in quotes:
            found = [
                Citation(m.id, m.title, m.url, m.published, m.source)
                for m in members.get(story.get(q.chunk_id) or -1, [])
            ] + [
                Citation(a.id, a.title, a.url, a.published, a.source)
                for a in aliases.get(q.article_id, [])
            ]
            also: dict[str, Citation] = {}  # each id once, where first met
            for c in found:
                if c.article_id != q.article_id:
                    also.setdefault(c.article_id, c)
            out.append(replace(q, also_reported_by=tuple(also.values())) if also else q)
        return out

    def stats(self) -> IndexStats:
        with self._lock, self.reader.damage():
            self.refresh()
            return self.reader.stats()

    def close(self) -> None:
        self.reader.close()
