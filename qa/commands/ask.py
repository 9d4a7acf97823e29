"""`qa ask [QUESTION]`"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

from index.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "ask",
        help="answer a question with quotes",
        description="Answer with up to three verbatim quotes, each cited with title, date and "
        "link, then the passages they came from. Without QUESTION, answer one question per line "
        "of standard input, loading the model and index once (a line may be a JSON object: "
        '{"question": ..., "as_of": "2023-01-05"}); at a terminal, ask at a `qa>` prompt '
        "until an empty line or Ctrl-D.",
    )
    p.add_argument("question", nargs="?", help="the question (omit to read standard input)")
    p.add_argument("-k", type=count, default=5, metavar="N", help="passages to return (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON (JSON Lines from stdin)")
    p.add_argument("--no-passages", action="store_true", help="print the quotes only")
    add_filter_options(p)
    dates = p.add_argument_group(
        "dates",
        "newer articles gain a mild advantage in the ranking, counted from today (or --as-of)",
    ).add_mutually_exclusive_group()
    dates.add_argument(
        "--recent",
        action="store_true",
        help="favour newer articles strongly (as 'recently' in the question does)",
    )
    dates.add_argument(
        "--no-recency",
        action="store_true",
        help="rank by the question alone: no advantage for newer articles",
    )
    p.add_argument(
        "--as-of",
        metavar="DATE",
        help="answer as on DATE: nothing published after it, and 'this week', 'yesterday' "
        "and --recent counted from it (2023-01-05; a month or year means its last day)",
    )
    return p


def count(text: str) -> int:
    """An argparse type: a whole number of things to show, 1 or more."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {n}")
    return n


def add_filter_options(p: argparse.ArgumentParser, *, question: bool = True) -> None:
    """--since, --until, --source; with `question` (ask, timeline) the note that a question
    may hold them in words."""
    g = p.add_argument_group(
        "filters",
        "also written in the question: since:2023-01 until:2023-03 source:ava, or "
        "plain phrases such as 'since March 2023', 'last week', 'in 2022'"
        if question
        else "dates take the phrases questions take: 2023-03, March 2023, last week",
    )
    g.add_argument(
        "--since",
        metavar="DATE",
        help="articles from this date on (2023, 2023-03, 2023-03-05, March 2023, "
        "yesterday, last week, past 30 days)",
    )
    g.add_argument("--until", metavar="DATE", help="articles up to this date, inclusive")
    g.add_argument("--source", metavar="NAME", help="articles whose source name or URL has NAME")


def filters_from(args: argparse.Namespace) -> Any:
    """The Filters the flags ask for; FilterError for a date that is none, or for since
    after until (before the model is loaded)."""
    from datetime import date

    from qa.filters import Filters, bounds

    today = date.today()
    return Filters(
        since=bounds(args.since, today)[0] if args.since else None,
        until=bounds(args.until, today)[1] if args.until else None,
        source=args.source,
    ).check()


def run(args: argparse.Namespace, settings: Settings) -> int:
    from qa.answer import Answer, EmptyQuestion
    from qa.engine import Engine
    from qa.filters import FilterError, bounds
    from qa.render import to_json, to_text

    def show(answer: Answer) -> None:
        if args.json:
            print(to_json(answer), flush=True)
        else:
            print(to_text(answer, passages=not args.no_passages) + "\n", flush=True)

    def answer(text: str, when: date | None = None) -> None:
        when = when or as_of
        show(
            engine.ask(
                text,
                k=args.k,
                filters=filters,
                recent=args.recent,
                as_of=when,
                prior=not args.no_recency,
            )
        )

    def answer_line(line: str) -> None:
        """A plain question, or {"question": ..., "as_of": ...}."""
        if line.lstrip().startswith("{"):
            answer(*question_of(line, today))
        else:
            answer(line)

    filters = filters_from(args)
    today = date.today()
    as_of = bounds(args.as_of, today)[1] if args.as_of else None
    engine = Engine(settings, notify=lambda m: print(m, file=sys.stderr, flush=True))
    try:
        if args.question is not None:
            answer(args.question)
            return 0
        if sys.stdin.isatty():
            return interactive(answer)
        status = 0
        for n, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                answer_line(line)
            except (EmptyQuestion, FilterError) as e:
                print(f"error: line {n}: {e}", file=sys.stderr)
                status = 1
        return status
    finally:
        engine.close()


def question_of(line: str, today: date) -> tuple[str, date | None]:
    """(question, as_of) of a JSON line of a batch; FilterError naming what is wrong."""
    import json

    from qa.filters import FilterError, bounds

    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise FilterError(f"invalid JSON: {e.msg}") from None
    text = record.get("question") if isinstance(record, dict) else None
    if not isinstance(text, str):
        raise FilterError('a JSON line needs a "question" text')
    as_of = record.get("as_of")
    if as_of is not None and not isinstance(as_of, str):
        raise FilterError('"as_of" must be a date such as "2023-01-05"')
    return text, bounds(as_of, today)[1] if as_of else None


PROMPT = "qa> "


def interactive(answer: Callable[[str], None]) -> int:
    """Questions typed at a `qa>` prompt, each answered in turn, until an empty line or
    end of input (Ctrl-D). A question that cannot be asked is explained, and the next one
    asked for."""
    from qa.answer import EmptyQuestion
    from qa.filters import FilterError

    print("Ask a question; an empty line or Ctrl-D ends.", file=sys.stderr)
    while True:
        try:
            line = prompt(PROMPT)
        except EOFError:
            print(file=sys.stderr)  # end the prompt's line
            return 0
        if not line.strip():
            return 0
        try:
            answer(line)
        except (EmptyQuestion, FilterError) as e:
            print(f"error: {e}", file=sys.stderr)


def prompt(text: str) -> str:
    """One line typed at the terminal, without its newline; EOFError at the end of input.

    With standard output at the terminal too, `input` (with line editing where the readline
    module exists); else the prompt goes to standard error, so that only answers reach a
    file or pipe (`qa ask --json > answers.jsonl`).
    """
    if sys.stdout.isatty():
        with contextlib.suppress(ImportError):  # not every Python has it
            import readline  # noqa: F401  (imported for its effect: editing keys in input())
        return input(text)
    print(text, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")
