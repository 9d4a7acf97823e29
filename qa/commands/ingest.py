"""`qa ingest PATH|URL...`"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from index.build import IngestReport
from index.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "ingest",
        help="add articles from files, folders, web pages and feeds",
        description="Add .txt/.md, .html, .json/.jsonl, .pdf and .docx articles (folders are "
        "read recursively; files of other types are passed over and counted), and web pages or "
        "RSS/Atom feeds given by URL. A file's article is named by the file's absolute path, "
        "so an edited file replaces its old text however its path is typed. Unchanged articles "
        "are skipped without embedding; changed ones replace their old chunks; the same text "
        "under two ids is stored once. Inputs that cannot be read are named on standard error, "
        "the rest is ingested, and the exit status is 1.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH|URL")
    p.add_argument(
        "--source",
        metavar="NAME",
        help="the source (publisher) of articles whose file names none, e.g. a folder of "
        ".txt files from one agency",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--max-file-mb", type=float, metavar="MB", help="[QA_MAX_FILE_MB]")
    add_fetch_options(p)
    return p


def add_fetch_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("fetching URLs")
    g.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        metavar="S",
        help="seconds to wait for a server (default 20)",
    )
    g.add_argument(
        "--delay",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between requests to one site (default 1)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from index.feeds import is_url

    report = ingest_sources(args.paths, args, settings)
    found_nothing = not report.read and not any(is_url(s) for s in args.paths)
    return 1 if report.failed or found_nothing else 0


def ingest_sources(
    sources: list[str], args: argparse.Namespace, settings: Settings, *, stamp: bool = False
) -> IngestReport:
    """Ingest files, folders and URLs in one write; prints failures and the summary (with
    `stamp`, each line starts with the time, as `qa watch` logs)."""
    from tqdm import tqdm

    from index.build import ingest
    from index.feeds import is_url, known_urls, load_states, read_url, save_states
    from index.fetch import Fetcher
    from index.models import load_embedder
    from index.records import Article, ReadFailure
    from index.sources import READS, locate, read_located
    from index.wording import plural

    def say(text: str, *, err: bool = True) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}" if stamp else text
        tqdm.write(line, file=sys.stderr if err else sys.stdout)

    tty = sys.stderr.isatty()
    max_bytes = int(settings.max_file_mb * 1_000_000)
    urls = [s for s in sources if is_url(s)]
    passed_over: list[Path] = []
    files = list(locate([Path(s) for s in sources if not is_url(s)], passed_over))
    bar = tqdm(
        files, desc="reading", unit="file", disable=not tty or len(files) < 20, file=sys.stderr
    )
    states = load_states(settings.index_dir)
    source = getattr(args, "source", None)

    def items(known: Any, fetcher: Fetcher) -> Iterator[Article | ReadFailure]:
        for item in bar:
            if isinstance(item, ReadFailure):
                yield item
            else:
                yield from read_located(item[0], item[1], max_bytes=max_bytes, source=source)
        for url in urls:
            yield from read_url(url, fetcher, states, known=known)

    with (
        Fetcher(timeout=args.timeout, delay=args.delay, max_bytes=max_bytes) as fetcher,
        known_urls(settings.index_dir) as known,
    ):
        report = ingest(
            settings,
            items(known, fetcher),
            load_embedder(settings, writing=True, notify=say),
            progress=tty,
            on_failure=lambda f: say(f"error: {f}"),
            on_wait=say,
        )
    bar.close()
    if urls and states:
        save_states(settings.index_dir, states)
    for path in passed_over if args.verbose else ():
        say(f"passed over {path}: not a type qa ingest reads")
    if not report.read and not report.failed and not urls:
        say(f"found no article in {', '.join(sources)}: qa ingest reads {READS}")
    if args.json:
        out = {
            "index": str(settings.index_dir),
            **report.to_dict(),
            "passed_over": [str(p) for p in passed_over],
        }
        if stamp:
            out = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **out}
        print(json.dumps(out, ensure_ascii=False), flush=True)
    else:
        skipped = (
            f"; {plural(len(passed_over), 'file')} of other types passed over"
            + ("" if args.verbose else " (-v lists them)")
            if passed_over
            else ""
        )
        say(f"ingested into {settings.index_dir}: {report.summary()}{skipped}", err=False)
    return report
