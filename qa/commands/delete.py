"""`qa delete ID...` and `qa delete --source NAME --until DATE ...`"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index.errors import ConfigError
from index.settings import Settings
from qa.listing import add_selection_options

CONFIRM_OVER = 5  # deleting more articles than this asks first (or needs --yes)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "delete",
        help="remove articles by id, source, date or path",
        description="Remove articles, with their passages and vectors, in one atomic write: "
        "a running bot stops quoting them at its next question. Name them by id (or the path "
        "of their file), or select them with --source, --since, --until and --path (together, "
        f"they all must match). Deleting more than {CONFIRM_OVER} articles asks for a "
        "confirmation at a terminal; --yes skips it, and without a terminal it is required. "
        "Ids that are not stored are named, and the exit status is 1.",
    )
    p.add_argument("ids", nargs="*", metavar="ID", help="article ids (see `qa list`)")
    add_safety_options(p, "delete")
    add_selection_options(p)
    return p


def add_safety_options(p: argparse.ArgumentParser, verb: str) -> None:
    p.add_argument("-y", "--yes", action="store_true", help=f"{verb} without asking")
    p.add_argument(
        "--dry-run", action="store_true", help=f"list what would be {verb}d; change nothing"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from index.manage import plan_delete
    from qa.listing import selection_from

    selection = selection_from(args)
    if args.ids and not selection.everything:
        raise ConfigError(
            "give article ids or filters (--source, --since, --until, --path), not both"
        )
    if not args.ids and selection.everything:
        raise ConfigError(
            "name the articles to delete: their ids (`qa list` shows them), or --source, "
            "--since, --until or --path"
        )
    plan = plan_delete(settings.index_dir, args.ids, None if args.ids else selection)
    for unknown in plan.unknown:
        folder = Path(unknown.asked).expanduser().is_dir()
        hint = f"; for the articles of a folder, use --path {unknown.asked}" if folder else ""
        print(f"error: {unknown}{hint}", file=sys.stderr)
    if not plan.articles and not args.ids:
        from qa.commands.list import nothing_found

        print(nothing_found(settings, selection), file=sys.stderr)
    status = carry_out(plan, args, settings, verb="delete")
    return 1 if plan.unknown else status


def carry_out(
    plan: Any,
    args: argparse.Namespace,
    settings: Settings,
    *,
    verb: str,
    still: Callable[[Any], bool] | None = None,
    extra: dict[str, Any] | None = None,
) -> int:
    """Confirm a large plan, delete it (with --dry-run, only list it) and say what was done;
    `still` re-checks each article under the write lock. `verb`: "delete" or "prune"."""
    from index.manage import delete
    from index.wording import plural
    from qa.listing import confirm, preview, row_json, terminal_width

    folder = settings.index_dir
    what = plural(len(plan.articles), "article")
    asked = len(plan.articles) > CONFIRM_OVER and not (args.yes or args.dry_run)
    if asked:
        if not sys.stdin.isatty():
            raise ConfigError(
                f"not going to {verb} {what} from {folder} without a confirmation: add --yes "
                "(or --dry-run to list them)"
            )
        print("\n".join(preview(plan.articles, terminal_width(sys.stderr))), file=sys.stderr)
        if not confirm(f"{verb.capitalize()} {what} from {folder}?"):
            print(f"nothing {verb}d", file=sys.stderr)
            return 1
    done, chunks = len(plan.articles), sum(r.chunks for r in plan.articles)
    if plan.articles and not args.dry_run:
        result = delete(
            settings,
            [r.id for r in plan.articles],
            still=still,
            on_wait=lambda m: print(m, file=sys.stderr),
        )
        done, chunks = result.articles, result.chunks
    if args.json:
        data = {
            "index": str(folder),
            "dry_run": args.dry_run,
            "count": done,
            "chunks": chunks,
            "articles": [row_json(r) for r in plan.articles],
            "unknown": [{"id": u.asked, "similar": list(u.similar)} for u in plan.unknown],
        }
        print(json.dumps(data | (extra or {}), ensure_ascii=False))
        return 0
    if plan.articles and not asked:
        print("\n".join(preview(plan.articles, terminal_width(sys.stdout))))
    done_what = f"{plural(done, 'article')} ({plural(chunks, 'chunk')})"
    if args.dry_run:
        print(f"would {verb} {done_what} from {folder}; nothing changed (--dry-run)")
    else:
        print(f"{verb}d {done_what} from {folder}")
    return 0
