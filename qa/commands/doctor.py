"""`qa doctor [--repair]`"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from index.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "doctor",
        help="check the index for consistency, and repair it",
        description="Check that the manifest, the store, the keyword index and the FAISS file "
        "agree, that every chunk's article is present, and that no stray files lie about. "
        "With --repair, rebuild the derived parts (FAISS file, keyword index, counts, "
        "manifest.json) from the store, without re-embedding. Exit status 1 while an error "
        "remains.",
    )
    p.add_argument("--repair", action="store_true", help="rebuild what can be derived")
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from index.doctor import check, repair

    folder = settings.index_dir
    problems = check(folder)
    for p in problems:
        print(p)
    if args.repair and any(p.repairable for p in problems):
        problems = repair(folder, on_wait=lambda m: print(m, file=sys.stderr))
        print("repaired; now:" if not problems else "repaired what could be; still:")
        for p in problems:
            print(p)
    if not problems:
        print(f"{folder}: healthy")
    return 1 if any(p.severe for p in problems) else 0
