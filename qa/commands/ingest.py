"""`qa ingest PATH|URL...`"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from index.build import IngestReport
from index.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "ingest",
        help="add articles from files, folders, web pages and feeds",
        description="Add .txt/.md, .html, .json and .jsonl articles (folders are read "
        "recursively), and web pages or RSS/Atom feeds given by URL. Unchanged articles are "
        "skipped without embedding; changed ones replace their old chunks; the same text under "
        "two ids is stored once. Inputs that cannot be read are named on standard error, the "
        "rest is ingested, and the exit status is 1.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH|URL")
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
    report = ingest_sources(args.paths, args, settings)
    return 1 if report.failed else 0


def ingest_sources(
    sources: list[str], args: argparse.Namespace, settings: Settings
) -> IngestReport:
    """Ingest files, folders and URLs in one write; prints failures and the summary."""
    from tqdm import tqdm

    from index.build import ingest
    from index.feeds import is_url, known_urls, load_states, read_url, save_states
    from index.fetch import Fetcher
    from index.reading import locate, read_file
    from index.records import Article, ReadFailure
    from qa.engine import load_embedder

    tty = sys.stderr.isatty()
    max_bytes = int(settings.max_file_mb * 1_000_000)
    urls = [s for s in sources if is_url(s)]
    files = list(locate([Path(s) for s in sources if not is_url(s)]))
    bar = tqdm(
        files, desc="reading", unit="file", disable=not tty or len(files) < 20, file=sys.stderr
    )
    states = load_states(settings.index_dir)

    def items(known: Any, fetcher: Fetcher) -> Iterator[Article | ReadFailure]:
        for item in bar:
            if isinstance(item, ReadFailure):
                yield item
            else:
                yield from read_file(item[0], ident=f"file:{item[1]}", max_bytes=max_bytes)
        for url in urls:
            yield from read_url(url, fetcher, states, known=known)

    def failed(f: ReadFailure) -> None:
        tqdm.write(f"error: {f}", file=sys.stderr)

    with (
        Fetcher(timeout=args.timeout, delay=args.delay, max_bytes=max_bytes) as fetcher,
        known_urls(settings.index_dir) as known,
    ):
        report = ingest(
            settings,
            items(known, fetcher),
            load_embedder(settings, writing=True),
            progress=tty,
            on_failure=failed,
            on_wait=lambda m: print(m, file=sys.stderr),
        )
    bar.close()
    if urls and states:
        save_states(settings.index_dir, states)
    print(f"ingested into {settings.index_dir}: {report.summary()}", flush=True)
    return report
