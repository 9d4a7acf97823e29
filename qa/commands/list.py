"""`qa list`"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from index.errors import ConfigError
from index.settings import Settings
from qa.listing import add_selection_options

DEFAULT_LIMIT = 50  # about a screenful


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "list",
        help="the articles in the index, newest first",
        description="The stored articles, newest first (undated ones last): date, chunks, "
        "source, id and title, cut to the terminal's width. --json prints JSON Lines, one "
        "article a line. When more articles match than are shown, a note on standard error "
        "says how many.",
    )
    p.add_argument(
        "-n",
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show at most N articles (default {DEFAULT_LIMIT})",
    )
    p.add_argument("--all", action="store_true", help="show every matching article")
    p.add_argument("--json", action="store_true", help="print JSON Lines, one article a line")
    add_selection_options(p)
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from index.manage import list_articles
    from index.wording import plural
    from qa.listing import row_json, selection_from, table, terminal_width

    if args.limit < 1 and not args.all:
        raise ConfigError(f"-n must be at least 1, got {args.limit} (--all lists every article)")
    selection = selection_from(args)
    listing = list_articles(settings.index_dir, selection, None if args.all else args.limit)
    if args.json:
        for row in listing.rows:
            print(json.dumps(row_json(row), ensure_ascii=False))
    elif listing.rows:
        print("\n".join(table(listing.rows, terminal_width(sys.stdout))))
    if not listing.rows:
        print(nothing_found(settings, selection), file=sys.stderr)
    elif listing.total > len(listing.rows):
        print(
            f"{len(listing.rows):,} of {plural(listing.total, 'article')} shown, newest first; "
            "-n N or --all for more",
            file=sys.stderr,
        )
    return 0


def nothing_found(settings: Settings, selection: Any) -> str:
    """What to say when no article is selected: whether the index is empty or the filters
    leave nothing."""
    from index.manage import count_articles
    from index.wording import plural
    from qa.listing import describe

    folder = settings.index_dir
    if selection.everything:
        return f"no articles in {folder}; `qa ingest PATH --index {folder}` adds some"
    held = plural(count_articles(folder), "article")
    return f"no article in {folder} matches {describe(selection)} (it holds {held})"
