"""`qa ingest PATH...`"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from index.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "ingest",
        help="add articles from files and folders",
        description="Add .txt/.md, .html, .json and .jsonl articles (folders are read "
        "recursively). Unchanged articles are skipped without embedding; changed ones replace "
        "their old chunks; the same text under two ids is stored once. Files that cannot be "
        "read are named on standard error, the rest is ingested, and the exit status is 1.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--max-file-mb", type=float, metavar="MB", help="[QA_MAX_FILE_MB]")
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from index.build import ingest
    from index.reading import locate, read_file
    from index.records import Article, ReadFailure
    from qa.engine import load_embedder

    tty = sys.stderr.isatty()
    max_bytes = int(settings.max_file_mb * 1_000_000)
    files = list(locate(args.paths))
    bar = tqdm(
        files, desc="reading", unit="file", disable=not tty or len(files) < 20, file=sys.stderr
    )

    def items() -> Iterator[Article | ReadFailure]:
        for item in bar:
            if isinstance(item, ReadFailure):
                yield item
            else:
                yield from read_file(item[0], ident=f"file:{item[1]}", max_bytes=max_bytes)

    def failed(f: ReadFailure) -> None:
        tqdm.write(f"error: {f}", file=sys.stderr)

    report = ingest(
        settings,
        items(),
        load_embedder(settings),
        progress=tty,
        on_failure=failed,
        on_wait=lambda m: print(m, file=sys.stderr),
    )
    bar.close()
    print(f"ingested into {settings.index_dir}: {report.summary()}")
    return 1 if report.failed else 0
