"""A real `ingest` or `rebuild` in its own process, for tests that kill it with SIGKILL.

    python -m tests.crash_driver ingest INDEX CORPUS.jsonl
    python -m tests.crash_driver rebuild INDEX CHUNK_TOKENS

It runs the project's own ingest and rebuild with the hashing embedder, so each run takes
about a second and the kill lands anywhere in it: reading, chunking, the SQLite
transaction, writing the FAISS file, the commit, the manifest mirror, the clean-up.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from index.build import ingest, rebuild
from index.reading import read_paths
from index.settings import Settings
from tests.fakes import HashingEmbedder


def main(argv: list[str]) -> int:
    command, folder = argv[0], Path(argv[1])
    settings = Settings.from_env({}, index_dir=folder)
    embedder = HashingEmbedder()

    def waiting(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if command == "ingest":
        items = read_paths([Path(p) for p in argv[2:]], max_bytes=10**8)
        report = ingest(settings, items, lambda _m: embedder, on_wait=waiting)
    else:
        report = rebuild(
            settings.with_(chunk_tokens=int(argv[2])), lambda _m: embedder, on_wait=waiting
        )
    print(report.summary(), flush=True)
    # This program's own high-water mark (VmHWM counts from its start, not from the fork).
    peak = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
    print(f"peak memory {peak[1] if peak else '?'} kB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
