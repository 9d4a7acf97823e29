"""`qa stats`"""

from __future__ import annotations

import argparse
import json
from typing import Any

from index.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "stats",
        help="what the index holds",
        description="Articles, chunks, model, size on "
        "disk, newest article and last update of the index.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from index.reader import open_reader

    reader = open_reader(settings)
    try:
        s = reader.stats()
    finally:
        reader.close()
    rows = {
        "index": s.where,
        "articles": s.articles,
        "chunks": s.chunks,
        "model": s.model,
        "dimension": s.dimension,
        "search": s.search,
        "size on disk": f"{s.bytes_on_disk / 1e6:.1f} MB" if s.bytes_on_disk else "- (Milvus)",
        "newest article": s.newest_published or "-",
        "last update": s.updated,
    }
    if args.json:
        data: dict[str, Any] = {k.replace(" ", "_"): v for k, v in rows.items()}
        data["size_on_disk"] = s.bytes_on_disk
        print(json.dumps(data))
    else:
        width = max(map(len, rows))
        print("\n".join(f"{k:<{width}}  {v}" for k, v in rows.items()))
    return 0
