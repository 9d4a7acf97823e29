"""`qa eval`: ask every question of a set through the normal paths and score the answers.

The index is built with `index.build.ingest` from the file's articles (less a seeded share
left out, whose questions should abstain) and each question goes through `Engine.ask`, so
the figures measure exactly what `qa ask` and the bot do.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.embedder import Embedder
from index.errors import IndexMismatch, QAError
from index.settings import Settings
from index.wording import plural
from qa.answer import Answer
from qa.eval_data import EvalQuestion, EvalSet, contains_answer, leave_out
from qa.quotes import QuoteSettings
from qa.retriever import RetrievalSettings

if TYPE_CHECKING:
    from qa.engine import Engine

ANSWERABLE, LEFT_OUT, IMPOSSIBLE = "answerable", "left_out", "impossible"
CUTOFFS = (1, 5, 10)  # hit@k and ans@k reported; MRR is cut at the largest
FALSE_ABSTENTION_BUDGET = 0.05  # for the suggested threshold: answerable questions it may lose


@dataclass(frozen=True)
class EvalOptions:
    unanswerable: float = 0.0  # share of articles left out of the index
    seed: int = 0
    limit: int | None = None  # ask only this many questions (a quick look)
    # The Engine's sentence-vector cache, as the bot runs it. Off, every question pays for
    # its own sentences, as the first question to `qa ask` does: honest cold latency, slower.
    cache: bool = True


@dataclass(frozen=True)
class Outcome:
    """How one question fared."""

    question: EvalQuestion
    kind: str  # ANSWERABLE, LEFT_OUT (its article is not indexed) or IMPOSSIBLE (v2.0)
    article_rank: int | None  # 1-based rank of the first passage of a gold article
    rank: int | None  # ... of the first passage of a gold article holding an answer
    quote_hit: bool  # the first quote is from a gold article and holds an answer
    abstained: bool
    quotes: int
    exact: int  # quotes equal to article_text[start:end]
    seconds: float
    support: float  # the best sentence's evidence, which abstention compares to its threshold
    quoted: str | None  # the first quote, or None
    quoted_title: str | None
    error: str | None = None  # the message when the question was refused (a QAError)


@dataclass(frozen=True)
class Share:
    """`hits` of `total` questions; `value` is None when there were none."""

    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None


@dataclass(frozen=True)
class Metrics:
    hit_at: tuple[tuple[int, Share], ...]  # a gold article in the top k: ((1, Share), ...)
    ans_at: tuple[tuple[int, Share], ...]  # a top-k passage of a gold article holds an answer
    mrr: float | None  # MRR@10 of the first passage holding an answer, answerable questions
    quote_at_1: Share
    exactness: Share  # over quotes, not questions
    abstained_left_out: Share
    false_abstention: Share  # answerable questions that abstained
    abstained_impossible: Share
    refused: Share  # questions answered with an error message instead (counted as abstained)
    latency_median_ms: float
    latency_p95_ms: float
    # Median characters of the first quote, over questions quoted: a longer quote holds an
    # answer more often, so quote@1 is read beside it.
    quote_chars_median: float | None
    # The highest min_support that keeps false abstention within FALSE_ABSTENTION_BUDGET on
    # this run, and what it would abstain on: how the default threshold was chosen.
    suggested_min_support: float | None
    suggested_left_out: Share
    suggested_impossible: Share


@dataclass(frozen=True)
class EvalReport:
    evalset: EvalSet
    options: EvalOptions
    left_out: frozenset[str]
    metrics: Metrics
    outcomes: tuple[Outcome, ...]
    setup: Mapping[str, Any]  # model, index and answer settings, for the table and JSON


def judge(
    q: EvalQuestion,
    kind: str,
    answer: Answer,
    texts: Mapping[str, str],
    seconds: float,
    support: float = 0.0,
) -> Outcome:
    """Score one answer. `texts` maps article ids to the texts that quote offsets index."""
    article_rank = rank = None
    if kind == ANSWERABLE:
        for n, p in enumerate(answer.passages[: max(CUTOFFS)], 1):
            if p.article_id not in q.gold_ids:
                continue
            article_rank = article_rank or n
            if contains_answer(p.text, q.answers):
                rank = n
                break
    first = answer.quotes[0] if answer.quotes else None
    quote_hit = (
        kind == ANSWERABLE
        and first is not None
        and first.article_id in q.gold_ids
        and contains_answer(first.text, q.answers)
    )
    exact = sum(
        1
        for quote in answer.quotes
        if quote.article_id in texts
        and texts[quote.article_id][quote.start : quote.end] == quote.text
    )
    return Outcome(
        question=q,
        kind=kind,
        article_rank=article_rank,
        rank=rank,
        quote_hit=quote_hit,
        abstained=answer.abstained,
        quotes=len(answer.quotes),
        exact=exact,
        seconds=seconds,
        support=support,
        quoted=first.text if first else None,
        quoted_title=first.title if first else None,
    )


def summarize(outcomes: Sequence[Outcome]) -> Metrics:
    """The figures of the issue from per-question outcomes (definitions in docs/quality.md)."""
    answerable = [o for o in outcomes if o.kind == ANSWERABLE]
    n = len(answerable)

    def within(k: int, rank: Callable[[Outcome], int | None]) -> Share:
        return Share(sum(1 for o in answerable if (r := rank(o)) is not None and r <= k), n)

    hit_at = tuple((k, within(k, lambda o: o.article_rank)) for k in CUTOFFS)
    ans_at = tuple((k, within(k, lambda o: o.rank)) for k in CUTOFFS)
    mrr = sum(1.0 / o.rank for o in answerable if o.rank is not None) / n if n else None
    times = sorted(o.seconds * 1000 for o in outcomes)
    lengths = [len(o.quoted) for o in answerable if o.quoted is not None]

    def abstained(kind: str) -> Share:
        group = [o for o in outcomes if o.kind == kind]
        return Share(sum(o.abstained for o in group), len(group))

    threshold = suggest_threshold([o.support for o in answerable])

    def below(kind: str) -> Share:
        group = [o for o in outcomes if o.kind == kind]
        if threshold is None:
            return Share(0, 0)
        return Share(sum(o.support < threshold for o in group), len(group))

    return Metrics(
        hit_at=hit_at,
        ans_at=ans_at,
        mrr=mrr,
        quote_at_1=Share(sum(o.quote_hit for o in answerable), n),
        exactness=Share(sum(o.exact for o in outcomes), sum(o.quotes for o in outcomes)),
        abstained_left_out=abstained(LEFT_OUT),
        false_abstention=abstained(ANSWERABLE),
        abstained_impossible=abstained(IMPOSSIBLE),
        refused=Share(sum(o.error is not None for o in outcomes), len(outcomes)),
        latency_median_ms=statistics.median(times) if times else 0.0,
        latency_p95_ms=_percentile(times, 0.95),
        quote_chars_median=statistics.median(lengths) if lengths else None,
        suggested_min_support=threshold,
        suggested_left_out=below(LEFT_OUT),
        suggested_impossible=below(IMPOSSIBLE),
    )


def suggest_threshold(
    supports: Sequence[float], budget: float = FALSE_ABSTENTION_BUDGET
) -> float | None:
    """The highest threshold under which at most `budget` of these answerable questions fall."""
    if not supports:
        return None
    ordered = sorted(supports)
    return ordered[math.floor(budget * len(ordered))]


def run_eval(
    settings: Settings,
    evalset: EvalSet,
    make_embedder: Callable[[str], Embedder],
    options: EvalOptions | None = None,
    *,
    index_dir: Path | None = None,
    progress: bool = False,
    on_question: Callable[[], None] | None = None,
    make_writer: Callable[[str], Embedder] | None = None,
    retrieval: RetrievalSettings | None = None,
    quotes: QuoteSettings | None = None,
) -> EvalReport:
    """Index the kept articles (into `index_dir`, or a throwaway folder) and ask everything.

    With `index_dir`, articles already there unchanged are not embedded again; the folder
    may hold other articles too (distractors), but not one that is to be left out.
    `make_writer` is the embedder ingest uses, as `qa ingest` does (default: the same one);
    `retrieval` and `quotes` other settings than the defaults (for measuring them).
    """
    options = options or EvalOptions()
    writer = make_writer or make_embedder
    left_out = leave_out(evalset, options.unanswerable, options.seed)
    if index_dir is not None:
        return _run(
            settings.with_(index_dir=index_dir),
            evalset,
            make_embedder,
            options,
            left_out,
            progress,
            on_question,
            writer,
            retrieval,
            quotes,
        )
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as tmp:
        return _run(
            settings.with_(index_dir=Path(tmp) / "index"),
            evalset,
            make_embedder,
            options,
            left_out,
            progress,
            on_question,
            writer,
            retrieval,
            quotes,
        )


def _run(
    settings: Settings,
    evalset: EvalSet,
    make_embedder: Callable[[str], Embedder],
    options: EvalOptions,
    left_out: frozenset[str],
    progress: bool,
    on_question: Callable[[], None] | None,
    make_writer: Callable[[str], Embedder],
    retrieval: RetrievalSettings | None = None,
    quote_settings: QuoteSettings | None = None,
) -> EvalReport:
    from index.build import ingest
    from qa.engine import Engine

    kept = [a for a in evalset.articles if a.id not in left_out]
    cache: dict[tuple[str, bool], Embedder] = {}

    def shared(model: str, writing: bool = False) -> Embedder:  # one load of each
        if (model, writing) not in cache:
            cache[model, writing] = (make_writer if writing else make_embedder)(model)
        return cache[model, writing]

    report = ingest(settings, kept, lambda m: shared(m, True), progress=progress)
    quotes = quote_settings or QuoteSettings()
    quotes = quotes if options.cache else dataclasses.replace(quotes, cache_size=0)
    engine = Engine(settings, shared, quotes=quotes, retrieval=retrieval)
    try:
        _check_left_out(engine, left_out)
        texts: dict[str, str] = {a.id: a.text for a in evalset.articles}
        questions = evalset.questions[: options.limit] if options.limit else evalset.questions
        outcomes = []
        for q in questions:
            gone = all(g in left_out for g in q.gold_ids)
            kind = LEFT_OUT if gone else IMPOSSIBLE if q.impossible else ANSWERABLE
            # As of the day it was asked: nothing newer, and its "this week" is that week.
            today = date.fromisoformat(q.as_of) if q.as_of else None
            started = time.perf_counter()
            try:
                answer, decision = engine.ask_with_evidence(q.text, k=max(CUTOFFS), as_of=today)
            except QAError as e:
                # What a user would be told instead of an answer (an unreadable filter
                # phrase, say): scored as an abstention with nothing quoted.
                outcomes.append(_refused(q, kind, str(e), time.perf_counter() - started))
                continue
            seconds = time.perf_counter() - started
            _add_foreign_texts(engine, answer, texts)
            outcomes.append(judge(q, kind, answer, texts, seconds, decision.support))
            if on_question:
                on_question()
        writer = cache.get((engine.reader.manifest.model, True))
        setup = _setup(engine, report.seconds, report.chunks, writer)
    finally:
        engine.close()
    return EvalReport(
        evalset=evalset,
        options=options,
        left_out=left_out,
        metrics=summarize(outcomes),
        outcomes=tuple(outcomes),
        setup=setup,
    )


def _refused(q: EvalQuestion, kind: str, message: str, seconds: float) -> Outcome:
    return Outcome(
        question=q,
        kind=kind,
        article_rank=None,
        rank=None,
        quote_hit=False,
        abstained=True,
        quotes=0,
        exact=0,
        seconds=seconds,
        support=0.0,
        quoted=None,
        quoted_title=None,
        error=message,
    )


def _check_left_out(engine: Engine, left_out: frozenset[str]) -> None:
    present = sorted(a for a in left_out if engine.reader.has_article(a))
    if present:
        raise IndexMismatch(
            f"the index in {engine.settings.index_dir} holds {plural(len(present), 'article')} "
            "that this "
            f"run leaves out (e.g. {present[0]!r}); use a fresh --index folder, or no --index"
        )


def _add_foreign_texts(engine: Engine, answer: Answer, texts: dict[str, str]) -> None:
    """Quotes from articles outside the file (an --index with other articles) are checked too."""
    if any(q.article_id not in texts for q in answer.quotes):
        texts.update((a.id, a.text) for a in engine.reader.articles() if a.id not in texts)


def _setup(
    engine: Engine, build_seconds: float, embedded: int, writer: Embedder | None
) -> dict[str, Any]:
    m = engine.reader.manifest
    return {
        "model": m.model,
        "dtype": getattr(engine.embedder, "dtype", None),  # of the questions' embedder
        "answer_embedder": type(engine.embedder).__name__,
        "ingest_dtype": getattr(writer, "dtype", None),
        "chunk_tokens": m.chunk_tokens,
        "chunk_overlap": m.chunk_overlap,
        "index_articles": m.articles,
        "index_chunks": m.chunks,
        "build_seconds": round(build_seconds, 1),
        "chunks_embedded": embedded,
        "retrieval": dataclasses.asdict(engine.retriever.settings),
        "quotes": dataclasses.asdict(engine.quote_settings),
        "abstention": dataclasses.asdict(engine.abstention),
    }


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list; 0 when empty."""
    if not sorted_values:
        return 0.0
    rank = math.ceil(q * len(sorted_values) - 1e-9)
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]
