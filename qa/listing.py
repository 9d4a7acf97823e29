"""What `qa list`, `show`, `delete`, `prune` and `export` print: article tables aligned to
the terminal's width, one article's record, counts with their plurals, JSON values; and the
options that select articles, shared by those commands."""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from index.wording import plural
from qa.commands.ask import add_filter_options, filters_from

if TYPE_CHECKING:  # index.catalog loads numpy: not at `qa --help`
    from index.records import ArticleRecord, ArticleRow, Selection

HEADER = ("DATE", "CHUNKS", "SOURCE", "ID", "TITLE")
GAP = "  "
MIN_ID, MIN_TITLE, MAX_SOURCE = 12, 10, 20  # column widths when a terminal is too narrow
PREVIEW = 10  # articles named before "and N more"


def add_selection_options(p: argparse.ArgumentParser) -> None:
    """--since, --until, --source as `qa ask` takes them, and --path."""
    add_filter_options(p, question=False)
    p.add_argument(
        "--path",
        metavar="PATH",
        help="articles read from this file, or from any file under this folder",
    )


def selection_from(args: argparse.Namespace) -> Selection:
    """The articles the options select (`everything` when none was given)."""
    from index.records import Selection

    path = Path(args.path).expanduser().resolve().as_posix() if args.path else None
    return Selection(filters_from(args).scope(), path)


def describe(selection: Selection) -> str:
    """'since 2023-01-01, source ava, path /news/ava' (empty when it selects everything)."""
    s = selection.scope
    parts = [
        f"{name} {value}"
        for name, value in (
            ("since", s.since),
            ("until", s.until),
            ("source", s.source),
            ("path", selection.path),
        )
        if value
    ]
    return ", ".join(parts)


def terminal_width(stream: TextIO) -> int | None:
    """The terminal's width when `stream` is one; None (no cutting) when it is piped."""
    return shutil.get_terminal_size().columns if stream.isatty() else None


def table(rows: list[ArticleRow] | tuple[ArticleRow, ...], width: int | None) -> list[str]:
    """An aligned table of articles with a header; cut to `width` columns when given
    (titles shortened at their end, ids at their start, where a path's file name is)."""
    cells = [
        (
            (r.published or "-")[:10],
            str(r.chunks),
            _one_line(r.source or "-"),
            r.id,
            _one_line(r.title),
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [HEADER, *cells]) for i in range(len(HEADER))]
    if width is not None:
        widths[2] = min(widths[2], MAX_SOURCE)
        room = width - sum(widths[:3]) - len(GAP) * (len(HEADER) - 1)
        widths[3] = min(widths[3], max(room - widths[4], room // 2, MIN_ID))
        widths[4] = min(widths[4], max(room - widths[3], MIN_TITLE))
    lines = []
    for date, chunks, source, ident, title in [HEADER, *cells]:
        lines.append(
            GAP.join(
                (
                    date.ljust(widths[0]),
                    chunks.rjust(widths[1]),
                    _cut(source, widths[2]).ljust(widths[2]),
                    _cut_start(ident, widths[3]).ljust(widths[3]),
                    _cut(title, widths[4]),
                )
            ).rstrip()
        )
    return lines


def preview(rows: tuple[ArticleRow, ...], width: int | None) -> list[str]:
    """The table of the first PREVIEW rows, and how many more there are."""
    lines = table(rows[:PREVIEW], width)
    if len(rows) > PREVIEW:
        lines.append(f"... and {plural(len(rows) - PREVIEW, 'more article')}")
    return lines


def row_json(row: ArticleRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "published": row.published,
        "source": row.source,
        "url": row.url,
        "path": row.path,
        "chunks": row.chunks,
    }


def record_json(record: ArticleRecord) -> dict[str, Any]:
    a = record.article
    return {
        "id": a.id,
        "title": a.title,
        "published": a.published,
        "source": a.source,
        "url": a.url,
        "path": a.path,
        "lang": a.lang,
        "chunks": record.chunks,
        "added": record.added,
        "updated": record.updated,
        "same_story": list(record.story),
        "aliases": [
            {
                "id": alias.id,
                "title": alias.title,
                "published": alias.published,
                "source": alias.source,
                "url": alias.url,
                "path": alias.path,
            }
            for alias in record.aliases
        ],
        "text": a.text,
    }


def record_text(record: ArticleRecord) -> str:
    """The article's metadata, one field a line, then its stored text as it is."""
    a = record.article
    fields = {
        "id": a.id,
        "title": a.title,
        "published": a.published,
        "source": a.source,
        "url": a.url,
        "path": a.path,
        "language": a.lang,
        "chunks": str(record.chunks),
        "added": record.added,
        "updated": record.updated,
    }
    if record.story:
        fields["same story"] = ", ".join(record.story)
    if record.aliases:  # the same text under other ids: "id, url; id"
        fields["also published as"] = "; ".join(
            ", ".join(dict.fromkeys(p for p in (alias.id, alias.url) if p))
            for alias in record.aliases
        )
    width = max(map(len, fields))
    head = "\n".join(f"{k:<{width}}  {v or '-'}" for k, v in fields.items())
    return f"{head}\n\n{a.text}"


def confirm(question: str) -> bool:
    """Ask `question` [y/N] at the terminal; only 'y' or 'yes' is a yes."""
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        sys.stderr.write("\n")  # end of input: leave the prompt on a line of its own
    return answer.strip().lower() in ("y", "yes")


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _cut_start(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[len(text) - max(width - 1, 0) :]
