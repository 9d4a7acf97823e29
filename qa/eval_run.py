"""`qa eval`: ask every question of a set through the normal paths and score the answers.

The index is built with `index.build.ingest` from the file's articles (less a seeded share
left out, whose questions should abstain) and each question goes through `Engine.ask`, so
the figures measure exactly what `qa ask` and the bot do. The scoring is `qa.eval_metrics`'s,
the report's rendering `qa.eval_report`'s.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.embedder import Embedder
from index.errors import IndexMismatch, QAError
from index.settings import Settings
from index.wording import plural
from qa.answer import Answer
from qa.eval_data import EvalQuestion, EvalSet, leave_out
from qa.eval_metrics import (
    ANSWERABLE,
    CUTOFFS,
    IMPOSSIBLE,
    LEFT_OUT,
    Metrics,
    Outcome,
    judge,
    summarize,
)
from qa.quotes import QuoteSettings
from qa.retriever import RetrievalSettings

if TYPE_CHECKING:
    from qa.engine import Engine


@dataclass(frozen=True)
class EvalOptions:
    unanswerable: float = 0.0  # share of articles left out of the index
    seed: int = 0
    limit: int | None = None  # ask only this many questions (a quick look)
    # The Engine's sentence-vector cache, as the bot runs it. Off, every question pays for
    # its own sentences, as the first question to `qa ask` does: honest cold latency, slower.
    cache: bool = True


@dataclass(frozen=True)
class EvalReport:
    evalset: EvalSet
    options: EvalOptions
    left_out: frozenset[str]
    metrics: Metrics
    outcomes: tuple[Outcome, ...]
    setup: Mapping[str, Any]  # model, index and answer settings, for the table and JSON


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
