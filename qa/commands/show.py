"""`qa show ID`"""

from __future__ import annotations

import argparse
import json
from typing import Any

from index.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "show",
        help="one article's stored text and metadata",
        description="One article as the index holds it: its metadata, then its text exactly as "
        "quotes are cut from it. ID is an id from `qa list`, or the path of a file that was "
        "ingested. An id not found names the closest stored ones.",
    )
    p.add_argument("id", metavar="ID", help="the article's id, or its file's path")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from index.manage import show
    from qa.listing import record_json, record_text

    record = show(settings.index_dir, args.id)
    print(json.dumps(record_json(record), ensure_ascii=False) if args.json else record_text(record))
    return 0
