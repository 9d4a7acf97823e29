"""A real `ingest` or `rebuild` in its own process, for tests that kill it with SIGKILL.

    python -m tests.crash_driver ingest INDEX CORPUS.jsonl
    python -m tests.crash_driver rebuild INDEX CHUNK_TOKENS
    python -m tests.crash_driver delete INDEX ID...

It runs the project's own ingest, rebuild and delete with the hashing embedder, so each run takes
about a second and the kill lands anywhere in it: reading, chunking, the SQLite
transaction, writing the FAISS file, the commit, the manifest mirror, the clean-up. With
CRASH_AFTER=module:Class.method in the environment it kills itself right after that method
returns, to land a kill at one exact step.
"""

from __future__ import annotations

import importlib
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from index.build import ingest, rebuild
from index.settings import Settings
from index.sources import read_paths
from tests.fakes import HashingEmbedder


def crash_after(target: str) -> None:
    """SIGKILL this process as soon as `target` ("index.vectors:VectorIndex.save") returns."""
    module, _, name = target.partition(":")
    owner_name, method = name.split(".")
    owner = getattr(importlib.import_module(module), owner_name)
    original = getattr(owner, method)

    def killed_after(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(owner, method, killed_after)


def main(argv: list[str]) -> int:
    if target := os.environ.get("CRASH_AFTER"):
        crash_after(target)
    command, folder = argv[0], Path(argv[1])
    settings = Settings.from_env({}, index_dir=folder)
    embedder = HashingEmbedder()

    def waiting(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if command == "delete":
        from index.manage import delete

        deleted = delete(settings, argv[2:], on_wait=waiting)
        print(f"deleted {deleted.articles} articles, {deleted.chunks} chunks", flush=True)
        return 0
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
