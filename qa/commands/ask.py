"""`qa ask [QUESTION]`"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from index.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "ask",
        help="answer a question with quotes",
        description="Answer with up to three verbatim quotes, each cited with title, date and "
        "link, then the passages they came from. Without QUESTION, answer one question per line "
        "of standard input, loading the model and index once.",
    )
    p.add_argument("question", nargs="?", help="the question (omit to read standard input)")
    p.add_argument("-k", type=int, default=5, metavar="N", help="passages to return (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON (JSON Lines from stdin)")
    p.add_argument("--no-passages", action="store_true", help="print the quotes only")
    add_filter_options(p)
    return p


def add_filter_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "filters",
        "also written in the question: since:2023-01 until:2023-03 source:ava, or "
        "plain phrases such as 'since March 2023', 'last week', 'in 2022'",
    )
    g.add_argument(
        "--since",
        metavar="DATE",
        help="articles from this date on (2023, 2023-03, 2023-03-05, March 2023)",
    )
    g.add_argument("--until", metavar="DATE", help="articles up to this date, inclusive")
    g.add_argument("--source", metavar="NAME", help="articles whose source name or URL has NAME")
    g.add_argument("--recent", action="store_true", help="favour newer articles")


def filters_from(args: argparse.Namespace) -> Any:
    """The Filters the flags ask for."""
    from qa.filters import Filters, span

    return Filters(
        since=span(args.since)[0] if args.since else None,
        until=span(args.until)[1] if args.until else None,
        source=args.source,
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from qa.answer import Answer, EmptyQuestion
    from qa.engine import Engine
    from qa.filters import FilterError
    from qa.render import to_json, to_text

    def show(answer: Answer) -> None:
        if args.json:
            print(to_json(answer), flush=True)
        else:
            print(to_text(answer, passages=not args.no_passages) + "\n", flush=True)

    filters = filters_from(args)
    engine = Engine(settings)
    try:
        if args.question is not None:
            show(engine.ask(args.question, k=args.k, filters=filters, recent=args.recent))
            return 0
        status = 0
        for n, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                show(engine.ask(line, k=args.k, filters=filters, recent=args.recent))
            except (EmptyQuestion, FilterError) as e:
                print(f"error: line {n}: {e}", file=sys.stderr)
                status = 1
        return status
    finally:
        engine.close()
