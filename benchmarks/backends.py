"""The local search backend beside Milvus Lite, in one run: `qa ask` median and p95, the
backend's fill rate, resident memory and disk, at 10k and 100k chunks; and a bot replica's
`qa ask`, answering from the same Milvus Lite file with no index folder (index.replica).

    python -m benchmarks.backends [--sizes 10000,100000] [--questions 100] [--rounds 2]

For each size one ledger is built (benchmarks/synthetic.py: real stored text, vectors around
real embeddings) and each backend is filled from it as `qa doctor --repair` does
(`index.backend.refill`, nothing embedded: the chunks/s are the backend's share of an
ingest, the embedding being the same for both). Then a fresh child process per backend and
round, alternating, opens an Engine as `qa ask` does and asks real XQuAD questions (after as
many warm-up ones); it reports the median and p95 of `Engine.ask` and the resident memory of
its whole process tree (Milvus Lite runs the Milvus server as a child process of it). The
replica asks the same questions of the Milvus backend's file, reading the chunks' text and
sentence vectors from Milvus instead of the ledger.
Milvus Lite is one process on one machine: a cluster adds network round trips to each search
and spreads the memory over query nodes (docs/deployment.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from benchmarks.common import default_work, footer, header, median, p95, run_child, table
from benchmarks.corpus import questions, real_chunks
from benchmarks.synthetic import build_store
from index.manifest import Layout
from index.settings import Settings

BACKENDS = ("local", "milvus")
MODES = (*BACKENDS, "replica")  # how questions are asked: the replica reads milvus's file


def tree_rss_mb(pid: int) -> float:
    """Resident MB of a process and all its descendants."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def settings_of(mode: str, folder: Path) -> Settings:
    if mode == "replica":  # Milvus alone: the index folder beside it is not read
        env = {"QA_BACKEND": "milvus", "QA_MILVUS_URI": str(folder / "milvus.db")}
        return Settings.from_env(env, index_dir=folder / "no-index-here")
    return Settings.from_env({"QA_BACKEND": mode}, index_dir=folder)


def fill(backend: str, ledger: Path, folder: Path) -> float:
    """Copy the ledger to `folder` and fill `backend` from it; chunks a second."""
    from index.backend import refill
    from index.backends import open_backend
    from index.migrate import upgrade
    from index.store import Store

    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ledger, folder)
    for stale in folder.glob("vectors-*.faiss"):
        stale.unlink()
    store = Store(folder / "store.sqlite3")
    manifest = upgrade(store, folder)
    if manifest is None:
        raise SystemExit(f"{ledger} holds no manifest: remove it to build it again")
    search = open_backend(
        settings_of(backend, folder),
        store,
        dimension=manifest.dimension,
        exact=lambda: store.vectors(manifest.dimension),
    )
    started = time.perf_counter()
    with store.transaction():
        refill(search, store.entries(manifest.dimension, payload=search.holds_payload))
        generation = search.generation + 1
        manifest = manifest.with_(generation=generation, search=search.kind, backend=backend)
        search.describe(manifest.to_dict())
        search.commit()
        store.set_meta("manifest", manifest.to_dict())
    seconds = time.perf_counter() - started
    search.tidy()
    count = search.count()
    search.close()
    store.close()
    manifest.write_mirror(Layout(folder))
    return count / seconds


def child(backend: str, folder: Path, n: int) -> None:
    """In a fresh process: ask n questions (after n others) and print the figures as JSON."""
    import os

    from index.models import load_embedder
    from index.settings import DEFAULT_MODEL
    from qa.engine import Engine

    settings = settings_of(backend, folder)
    embedder = load_embedder(settings)(DEFAULT_MODEL)
    engine = Engine(settings, lambda _m: embedder)
    qs = questions(2 * n, seed=3)
    for q in qs[n:]:
        engine.ask(q)
    times = []
    for q in qs[:n]:
        t = time.perf_counter()
        engine.ask(q)
        times.append((time.perf_counter() - t) * 1000)
    rss = tree_rss_mb(os.getpid())
    engine.close()
    print(json.dumps({"median": median(times), "p95": p95(times), "rss_mb": rss}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--questions", type=int, default=100)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--work", type=Path, default=default_work())
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), int(args.child[2]))
        return
    header("search backends: local (FAISS, SQLite FTS5) beside Milvus Lite 2.5")
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        ledger = args.work / f"ledger-v4-{size}"
        if not (ledger / "manifest.json").exists():
            print(f"building a ledger of {size} chunks in {ledger} ...", flush=True)
            shutil.rmtree(ledger, ignore_errors=True)
            build_store(ledger, real_chunks(args.work, 2000), size)
        folders = {b: args.work / f"backend-{b}-{size}" for b in BACKENDS}
        rate = {}
        for b, folder in folders.items():
            rate[b] = fill(b, ledger, folder)
            print(f"  {size} chunks: {b} filled at {rate[b]:.0f} chunks/s", flush=True)
        folders["replica"] = folders["milvus"]
        rate["replica"] = rate["milvus"]
        runs: dict[str, list[dict]] = {b: [] for b in MODES}
        for r in range(args.rounds):
            order = MODES if r % 2 == 0 else MODES[::-1]
            for b in order:
                result = run_child(
                    [
                        "-m",
                        "benchmarks.backends",
                        "--child",
                        b,
                        str(folders[b]),
                        str(args.questions),
                    ]
                )
                runs[b].append(result.data)
                print(f"  {size} chunks, round {r + 1}: {b} {result.data}", flush=True)
        for b in MODES:
            rows.append(
                [
                    f"{size:,}",
                    b,
                    f"{median([x['median'] for x in runs[b]]):.1f}",
                    f"{median([x['p95'] for x in runs[b]]):.1f}",
                    f"{rate[b]:.0f}",
                    f"{median([x['rss_mb'] for x in runs[b]]):.0f}",
                    f"{folder_mb(folders[b]):.0f}",
                ]
            )
    print()
    print(
        table(
            ["chunks", "backend", "ask median ms", "p95 ms", "fill chunks/s", "RSS MB", "disk MB"],
            rows,
        )
    )
    print("\nRSS: the whole process tree (Milvus Lite's server included); disk: the index")
    print("folder, ledger included (the same for both), and Milvus Lite's file; the replica")
    print("reads the milvus row's file alone.")
    footer()


if __name__ == "__main__":
    sys.exit(main())
