"""`qa eval FILE`"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from index.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "eval",
        help="measure answer quality on a SQuAD file or a news set",
        description="Index the articles of a question set in a throwaway folder, or in --index "
        "DIR when given (QA_INDEX is not used here), ask every question as `qa ask` would, and "
        "report hit@1/5/10 (a gold article among the top passages), ans@1/5/10 (one of its "
        "passages there holds the answer), MRR@10, quote@1, quote exactness, abstention and "
        "latency. FILE is SQuAD v1.1/v2.0 JSON (each title one article, its paragraphs in "
        "order), or a news set: questions as JSON Lines (question, answer, gold_ids, as_of) "
        "with --articles ARTICLES.jsonl; each is asked as of its as_of date.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="SQuAD JSON, or questions JSONL")
    p.add_argument(
        "--articles",
        type=Path,
        metavar="JSONL",
        help="the articles of a news set (id, url, title, published, text), as qa ingest reads",
    )
    p.add_argument(
        "--unanswerable",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="leave this share of articles out of the index; their questions should abstain",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the left-out draw (default 0)")
    p.add_argument("--limit", type=int, metavar="N", help="ask only the first N questions")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="no sentence-vector cache between questions: the latency of a first question",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--failures", type=int, default=0, metavar="N", help="list the N worst misses")
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from index.models import load_embedder
    from qa.eval_data import EvalFileError, load_news, load_squad
    from qa.eval_report import failures, failures_text, to_json, to_table
    from qa.eval_run import EvalOptions, run_eval

    if args.articles is not None:
        evalset = load_news(args.file, args.articles)
    elif args.file.suffix.lower() in (".jsonl", ".ndjson"):
        raise EvalFileError(f"{args.file} holds questions; name their articles with --articles")
    else:
        evalset = load_squad(args.file)
    options = EvalOptions(
        unanswerable=args.unanswerable, seed=args.seed, limit=args.limit, cache=not args.no_cache
    )
    tty = sys.stderr.isatty()
    total = min(len(evalset.questions), args.limit or len(evalset.questions))
    bar = tqdm(total=total, desc="asking", unit="q", disable=not tty, file=sys.stderr)
    try:
        report = run_eval(
            settings,
            evalset,
            load_embedder(settings),
            options,
            index_dir=args.index,
            progress=tty,
            on_question=bar.update,
            make_writer=load_embedder(settings, writing=True),
        )
    finally:
        bar.close()
    if args.json:
        print(to_json(report, args.failures))
        return 0
    print(to_table(report))
    if args.failures:
        print(f"\nworst {args.failures} misses:")
        print(failures_text(failures(report, args.failures)))
    return 0
