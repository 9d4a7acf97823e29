"""`qa watch FEED... --every 15m`"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from index.errors import ConfigError
from index.settings import Settings
from qa.commands.ingest import add_fetch_options, ingest_sources

_EVERY = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNIT = {"": 60, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> float:
    """'15m' -> 900.0 seconds; a bare number is minutes."""
    m = _EVERY.match(text.strip().lower())
    if not m or float(m[1]) <= 0:
        raise ConfigError(f"--every {text!r}: give a duration such as 90s, 15m, 2h or 1d")
    return float(m[1]) * _UNIT[m[2]]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "watch",
        help="keep the index fresh from RSS/Atom feeds",
        description="Fetch each feed now and then every --every, ingesting new articles. "
        "Conditional requests (ETag / Last-Modified) make an unchanged feed cost one small "
        "request; pages already stored are not fetched again. A running `qa bot` answers from "
        "the new articles at once. Each line it prints starts with the time. Stop with Ctrl-C.",
    )
    p.add_argument("feeds", nargs="+", metavar="FEED_URL")
    p.add_argument(
        "--every",
        default="15m",
        metavar="DURATION",
        help="time between rounds: 90s, 15m, 2h, 1d (default 15m)",
    )
    p.add_argument("--once", action="store_true", help="one round, then exit (for cron)")
    p.add_argument("--json", action="store_true", help="each round's summary as a JSON line")
    p.add_argument("--max-file-mb", type=float, metavar="MB", help="[QA_MAX_FILE_MB]")
    add_fetch_options(p)
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    every = parse_every(args.every)
    while True:
        started = time.monotonic()
        report = ingest_sources(args.feeds, args, settings, stamp=True)
        if args.once:
            return 1 if report.failed else 0
        time.sleep(max(0.0, every - (time.monotonic() - started)))
