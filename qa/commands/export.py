"""`qa export [-o FILE]`"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from index.settings import Settings
from qa.listing import add_selection_options


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="write the articles as JSON Lines that qa ingest reads back",
        description="Write the stored articles, one JSON object a line (id, title, text, url, "
        "published, source, lang), in the order they were first stored: `qa ingest FILE` "
        "reads it back into this or another index (with another --model, say). To standard "
        "output, or with -o to a file that is replaced whole once the export is complete. "
        "The same filters as `qa list` choose what is written.",
    )
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    add_selection_options(p)
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from index.manage import export, export_file
    from index.wording import plural
    from qa.listing import selection_from

    selection = selection_from(args)
    if args.output is not None:
        n = export_file(settings.index_dir, selection, args.output)
        where, out = str(args.output), sys.stdout
    else:
        n = export(settings.index_dir, selection, sys.stdout)
        where, out = "standard output", sys.stderr  # the summary never mixes with the lines
    if args.json:
        summary = {"index": str(settings.index_dir), "count": n, "output": where}
        print(json.dumps(summary, ensure_ascii=False), file=out)
    else:
        print(f"exported {plural(n, 'article')} from {settings.index_dir} to {where}", file=out)
    return 0
