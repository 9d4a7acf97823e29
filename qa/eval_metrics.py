"""`qa eval`'s scoring: how one question fared (`judge`) and the figures over a run (`summarize`:
hit@k, ans@k, MRR, quote@1, exactness, abstention, latency, and a suggested threshold).

Definitions of the figures are in docs/quality.md.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from qa.answer import Answer
from qa.eval_data import EvalQuestion, contains_answer

ANSWERABLE, LEFT_OUT, IMPOSSIBLE = "answerable", "left_out", "impossible"
CUTOFFS = (1, 5, 10)  # hit@k and ans@k reported; MRR is cut at the largest
FALSE_ABSTENTION_BUDGET = 0.05  # for the suggested threshold: answerable questions it may lose


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


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list; 0 when empty."""
    if not sorted_values:
        return 0.0
    rank = math.ceil(q * len(sorted_values) - 1e-9)
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]
