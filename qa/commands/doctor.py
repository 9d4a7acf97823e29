"""`qa doctor [--repair] [--move-unknown] [--json]`"""

from __future__ import annotations

import argparse
import json
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
        "manifest.json) from the store, without re-embedding, and remove what an interrupted "
        "write left. Files in the index folder that qa did not make are listed, never "
        "deleted. An index written by an older version is upgraded by --repair (or by the "
        "next write or question); the format is reported. Exit status 1 while an error "
        "remains, 2 when there is no index.",
    )
    p.add_argument("--repair", action="store_true", help="rebuild what can be derived")
    p.add_argument(
        "--move-unknown",
        action="store_true",
        help="move files qa did not make out of the way, into INDEX/unknown-files/",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from index.doctor import Problem, check, move_unknown, repair, stored_format
    from index.manifest import FORMAT_VERSION

    folder = settings.index_dir
    found = check(folder, settings)  # no index at all: IndexMissing, exit 2 like every command
    problems = found
    repaired = False
    if args.repair and any(p.repairable for p in found):
        problems = repair(folder, on_wait=lambda m: print(m, file=sys.stderr), settings=settings)
        repaired = True
    moved = move_unknown(folder) if args.move_unknown else []
    if moved:
        problems = check(folder, settings)

    def record(p: Problem) -> dict[str, Any]:
        return {"what": p.what, "severe": p.severe, "repairable": p.repairable}

    status = 1 if any(p.severe for p in problems) else 0
    written = stored_format(folder)
    if args.json:
        report = {
            "index": str(folder),
            "format": written,
            "format_read": FORMAT_VERSION,
            "healthy": not problems,
            "found": [record(p) for p in found],
            "repaired": repaired,
            "moved": [{"from": str(a), "to": str(b)} for a, b in moved],
            "problems": [record(p) for p in problems],
            "unknown_files": [p.unknown for p in problems if p.unknown],
        }
        print(json.dumps(report))
        return status
    for p in found:
        print(p)
    if repaired:
        print("repaired; now:" if not problems else "repaired what could be; still:")
        for p in problems:
            print(p)
    for a, b in moved:
        print(f"moved {a.name} to {b.relative_to(folder)}")
    said = "" if written is None else f", format {written}"
    if written is not None and written != FORMAT_VERSION:
        said += f" (this version reads {FORMAT_VERSION})"
    print(f"{folder}: {'healthy' if not problems else 'checked'}{said}")
    return status
