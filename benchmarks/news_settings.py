"""Retrieval and quote settings on an eval set: each asked over one index, side by side.

    python -m benchmarks.realtimeqa realtimeqa_public --out ~/newsqa-dev --years 2023
    python -m benchmarks.news_settings ~/newsqa-dev --index ~/newsqa-dev/index \\
        --grid "recency_weight=0,0.1,0.2 recency_half_life=14,30 q.per_article=0,1"

Every combination of the grid's values (a field of qa.retriever.RetrievalSettings, or
q.FIELD for one of qa.quotes.QuoteSettings, then its values) is run through `qa eval`'s
own path (`run_eval`: the questions asked as of their dates) over one index, built on the
first run and reused; the defaults run first. Prints
hit@1/5/10 (a gold article in the top k), ans@1/5/10 (its passage holds the answer),
quote@1 and the median seconds a question, one row a setting. A SQuAD-format file
(xquad.en.json) in place of the folder is measured the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path
from typing import Any

from benchmarks.common import footer, header

INTS = ("candidates", "rrf_k", "per_article", "passages", "max_quotes", "cache_size")


def grid(text: str) -> list[dict[str, float]]:
    """'a=1,2 b=3' -> [{}, {a: 1, b: 3}, {a: 2, b: 3}] (the defaults first)."""
    from qa.quotes import QuoteSettings
    from qa.retriever import RetrievalSettings

    fields = {f.name: f.type for f in dataclasses.fields(RetrievalSettings)}
    fields |= {f"q.{f.name}": f.type for f in dataclasses.fields(QuoteSettings)}
    axes: list[tuple[str, list[float]]] = []
    for part in text.split():
        name, _, values = part.partition("=")
        if name not in fields:
            raise SystemExit(f"--grid: {name!r} is not one of {', '.join(fields)}")
        axes.append((name, [float(v) for v in values.split(",") if v]))
    combos = [dict(zip([a for a, _ in axes], vs, strict=True)) for vs in
              itertools.product(*(v for _, v in axes))]  # fmt: skip
    return [{}, *combos] if axes else [{}]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "folder",
        type=Path,
        help="holds articles.jsonl and questions.jsonl (or a SQuAD-format .json file)",
    )
    p.add_argument("--index", type=Path, required=True, help="the index, built on first use")
    p.add_argument("--grid", default="", help="FIELD=V1,V2 ... (see above)")
    p.add_argument("--limit", type=int, help="ask only the first N questions")
    args = p.parse_args()

    from index.models import load_embedder
    from index.settings import Settings
    from qa.eval_data import load_news, load_squad
    from qa.eval_run import EvalOptions, run_eval
    from qa.quotes import QuoteSettings
    from qa.retriever import RetrievalSettings

    header(f"retrieval settings on {args.folder}")
    if args.folder.suffix == ".json":
        evalset = load_squad(args.folder)
    else:
        evalset = load_news(args.folder / "questions.jsonl", args.folder / "articles.jsonl")
    settings = Settings.from_env({})
    read, write = load_embedder(settings), load_embedder(settings, writing=True)
    print(f"{len(evalset.articles):,} articles, {len(evalset.questions):,} questions\n")
    print("| setting | hit@1 | hit@5 | hit@10 | ans@1 | ans@5 | ans@10 | quote@1 | median ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for changes in grid(args.grid):
        values: dict[str, Any] = {k: int(v) if k.removeprefix("q.") in INTS else v
                                  for k, v in changes.items()}  # fmt: skip
        retrieval = dataclasses.replace(
            RetrievalSettings(), **{k: v for k, v in values.items() if not k.startswith("q.")}
        )
        quotes = dataclasses.replace(
            QuoteSettings(), **{k[2:]: v for k, v in values.items() if k.startswith("q.")}
        )
        report = run_eval(
            settings,
            evalset,
            read,
            EvalOptions(limit=args.limit),
            index_dir=args.index,
            make_writer=write,
            retrieval=retrieval,
            quotes=quotes,
            progress=True,
        )
        m = report.metrics
        cells = [
            *(f"{sh.value:.3f}" for _, sh in m.hit_at),
            *(f"{sh.value:.3f}" for _, sh in m.ans_at),
            f"{m.quote_at_1.value:.3f}",
            f"{m.latency_median_ms:.0f}",
        ]
        name = " ".join(f"{k}={v:g}" for k, v in changes.items()) or "defaults"
        print(f"| {name} | {' | '.join(cells)} |", flush=True)
    footer()


if __name__ == "__main__":
    main()
