"""`qa rebuild`"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from index.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "rebuild",
        help="re-chunk and re-embed every article",
        description="Re-chunk and re-embed every stored article into a fresh index, for a new "
        "--model or chunk size, and swap it in atomically: until it commits, readers (and a "
        "crash) see the previous index.",
    )
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from index.build import rebuild
    from index.models import load_embedder
    from index.wording import plural

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    report = rebuild(
        settings,
        load_embedder(settings, writing=True, notify=say),
        progress=sys.stderr.isatty(),
        on_wait=say,
    )
    articles, chunks = plural(report.updated, "article"), plural(report.chunks, "chunk")
    print(f"rebuilt {settings.index_dir}: {articles}, {chunks} in {report.working:.1f} s")
    return 0
