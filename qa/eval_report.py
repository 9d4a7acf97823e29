"""`qa eval` results as a terminal table, as JSON, and as a list of the worst misses."""

from __future__ import annotations

import json
from typing import Any

from index.wording import plural
from qa.eval_metrics import ANSWERABLE, CUTOFFS, Outcome, Share
from qa.eval_run import EvalReport

_CLIP = 240  # characters of a quote shown in the failure list


def _fmt(share: Share, *, percent: bool = False) -> str:
    v = share.value
    if v is None:
        return "-"
    return f"{100 * v:.1f}%" if percent else f"{v:.3f}"


def to_table(report: EvalReport) -> str:
    """The figures, one a line, with how many questions (or quotes) each is over."""
    m, s, e = report.metrics, report.setup, report.evalset
    asked = len(report.outcomes)
    kind = "news" if e.version == "news" else f"SQuAD {e.version or '?'}"
    head = [
        f"{e.name} ({kind}): {plural(len(e.articles), 'article')}, "
        f"{plural(asked, 'question')} asked",
        f"left out of the index: {plural(len(report.left_out), 'article')} "
        f"(--unanswerable {report.options.unanswerable}, seed {report.options.seed})",
        f"index: {plural(s['index_articles'], 'article')}, {plural(s['index_chunks'], 'chunk')} "
        f"({s['chunk_tokens']} tokens, overlap {s['chunk_overlap']}), built in "
        f"{s['build_seconds']} s",
        f"model: {s['model']}; ingest in {s.get('ingest_dtype') or 'dtype unknown'}, "
        f"questions by {s.get('answer_embedder', '?')} in {s['dtype'] or 'dtype unknown'}; "
        f"sentence cache {'on' if report.options.cache else 'off'}",
        "",
    ]
    rows: list[tuple[str, str, str]] = [
        *((f"hit@{k}", _fmt(sh), str(sh.total)) for k, sh in m.hit_at),
        *((f"ans@{k}", _fmt(sh), str(sh.total)) for k, sh in m.ans_at),
        (
            f"MRR@{max(CUTOFFS)}",
            "-" if m.mrr is None else f"{m.mrr:.3f}",
            str(m.hit_at[0][1].total),
        ),
        ("quote@1", _fmt(m.quote_at_1), str(m.quote_at_1.total)),
        (
            "first quote, median length",
            "-" if m.quote_chars_median is None else f"{m.quote_chars_median:.0f} ch",
            str(m.quote_at_1.total - m.false_abstention.hits),
        ),
        ("quote exactness", _fmt(m.exactness, percent=True), plural(m.exactness.total, "quote")),
        (
            "abstained: left-out articles",
            _fmt(m.abstained_left_out),
            str(m.abstained_left_out.total),
        ),
        (
            "abstained: is_impossible",
            _fmt(m.abstained_impossible),
            str(m.abstained_impossible.total),
        ),
        (
            "false abstention (answerable)",
            _fmt(m.false_abstention, percent=True),
            str(m.false_abstention.total),
        ),
        (
            "min support at <=5% false abst.",
            "-" if m.suggested_min_support is None else f"{m.suggested_min_support:.3f}",
            f"now {s['abstention']['min_support']}",
        ),
        ("  abstained: left-out", _fmt(m.suggested_left_out), str(m.suggested_left_out.total)),
        (
            "  abstained: is_impossible",
            _fmt(m.suggested_impossible),
            str(m.suggested_impossible.total),
        ),
        ("refused with an error", str(m.refused.hits), str(asked)),
        ("latency median", f"{m.latency_median_ms:.0f} ms", str(asked)),
        ("latency p95", f"{m.latency_p95_ms:.0f} ms", str(asked)),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [
        f"{'figure':<{width}}  {'value':>8}  over",
        *(f"{a:<{width}}  {b:>8}  {c}" for a, b, c in rows),
        "",
        "hit@k: a gold article among the top k passages; ans@k: a passage of a gold article",
        f"there holds an answer; MRR@{max(CUTOFFS)}: of that passage's rank; quote@1: the first "
        "quote is from a gold article and holds an answer",
    ]
    return "\n".join(head + lines)


def failures(report: EvalReport, n: int) -> list[dict[str, Any]]:
    """The `n` worst misses, worst first: what was asked, what was expected, what was quoted."""
    misses = [
        (severity, o, why) for o in report.outcomes for severity, why in [_miss(o)] if severity
    ]
    misses.sort(key=lambda t: (-t[0], -(t[1].rank or 0)))
    return [
        {
            "id": o.question.id,
            "why": why,
            "question": o.question.text,
            "expected": list(o.question.answers) or None,
            "article": o.question.article_id,
            "quoted": _clip(o.quoted),
            "quoted_from": o.quoted_title,
        }
        for _, o, why in misses[:n]
    ]


def _miss(o: Outcome) -> tuple[int, str]:
    """(severity, reason); severity 0 is no miss."""
    if o.error is not None:
        return 5, f"refused: {o.error}"
    if o.kind != ANSWERABLE:
        return (0, "") if o.abstained else (3, f"quoted, but should abstain ({o.kind})")
    if o.article_rank is None:
        return 4, f"no passage of the top {max(CUTOFFS)} is from a gold article"
    if o.rank is None:
        return 4, f"no gold passage of the top {max(CUTOFFS)} holds the answer"
    if o.abstained:
        return 3, "abstained, but the answer was retrieved"
    if o.quote_hit:
        return (0, "") if o.rank == 1 else (1, f"first passage with the answer at rank {o.rank}")
    return 2, f"first quote misses the answer (passage rank {o.rank})"


def failures_text(items: list[dict[str, Any]]) -> str:
    out = []
    for n, f in enumerate(items, 1):
        expected = " | ".join(f["expected"]) if f["expected"] else "(no answer)"
        out += [
            f"{n}. [{f['why']}] {f['question']}",
            f"   expected: {expected}  ({f['article']})",
            f"   quoted:   {f['quoted'] or '(nothing)'}"
            + (f"  ({f['quoted_from']})" if f["quoted_from"] else ""),
        ]
    return "\n".join(out)


def to_json(report: EvalReport, n_failures: int = 0) -> str:
    m = report.metrics
    data: dict[str, Any] = {
        "file": report.evalset.name,
        "version": report.evalset.version,
        "articles": len(report.evalset.articles),
        "questions": len(report.outcomes),
        "unanswerable": report.options.unanswerable,
        "seed": report.options.seed,
        "sentence_cache": report.options.cache,
        "left_out_articles": sorted(report.left_out),
        "setup": dict(report.setup),
        "metrics": {
            **{f"hit@{k}": sh.value for k, sh in m.hit_at},
            **{f"ans@{k}": sh.value for k, sh in m.ans_at},
            f"mrr@{max(CUTOFFS)}": m.mrr,
            "quote@1": m.quote_at_1.value,
            "quote_exactness": m.exactness.value,
            "quote_chars_median": m.quote_chars_median,
            "abstained_left_out": m.abstained_left_out.value,
            "abstained_impossible": m.abstained_impossible.value,
            "false_abstention": m.false_abstention.value,
            "suggested_min_support": m.suggested_min_support,
            "suggested_abstained_left_out": m.suggested_left_out.value,
            "suggested_abstained_impossible": m.suggested_impossible.value,
            "refused": m.refused.hits,
            "latency_median_ms": round(m.latency_median_ms, 1),
            "latency_p95_ms": round(m.latency_p95_ms, 1),
        },
        "counts": {
            "answerable": m.hit_at[0][1].total,
            "left_out": m.abstained_left_out.total,
            "impossible": m.abstained_impossible.total,
            "quotes": m.exactness.total,
        },
    }
    if n_failures:
        data["failures"] = failures(report, n_failures)
    return json.dumps(data, ensure_ascii=False, indent=2)


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= _CLIP:
        return text
    return text[: _CLIP - 1] + "\u2026"
