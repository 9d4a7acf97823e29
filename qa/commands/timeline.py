"""`qa timeline "TOPIC"`"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from index.settings import Settings
from qa.commands.ask import add_filter_options, count, filters_from


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "timeline",
        help="the quotes on a topic, oldest first",
        description="The quotes that answer TOPIC, one per story (republished copies count "
        "once), ordered by publish date, oldest first; each line begins with its date "
        "(YYYY-MM-DD), so a reader sees how a position changed.",
    )
    p.add_argument("topic", metavar="TOPIC")
    p.add_argument("-n", type=count, default=20, metavar="N", help="at most N entries (default 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_filter_options(p)
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from qa.engine import Engine
    from qa.timeline import to_json, to_text

    filters = filters_from(args)  # a bad flag is named before the model loads
    engine = Engine(settings, notify=lambda m: print(m, file=sys.stderr, flush=True))
    try:
        timeline = engine.timeline(args.topic, args.n, filters=filters)
    finally:
        engine.close()
    print(to_json(timeline) if args.json else to_text(timeline))
    return 0
