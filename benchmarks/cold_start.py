"""Cold start: seconds from process start to the first answer, at 100k chunks.

    python -m benchmarks.cold_start [--chunks 100000] [--repeats 5]

Runs, interleaved and repeated, each a fresh process timed from spawn to its first line of
output (the answer) and to its exit:

  python -c pass                 the interpreter alone
  import torch                   the floor under anything that uses torch
  import sentence_transformers   what the torch embedder imports
  qa ask QUESTION                the real command over the 100k index (flat, as auto picks),
                                 answering through the model's export, run by OpenVINO
                                 (index/models.py: load_embedder; exported once before the rounds)
  qa ask, torch fallback         the same command where the export is marked unsupported:
                                 sentence-transformers, as every `qa ask` was before

then one child that times the stages of `qa ask` inside the process. The children's
per-user cache (XDG_CACHE_HOME) is kept in the work folder, never the user's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # index.settings, not imported yet
QUESTION = "What did the Panthers defense do in the 2015 season?"


def spawn(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds to the first line of stdout, seconds to exit) of `python args...`."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    first = time.perf_counter() - started
    proc.stdout.read()
    if proc.wait() != 0:
        raise RuntimeError(f"{' '.join(args)} failed")
    return first, time.perf_counter() - started


def child_env(cache: Path) -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", XDG_CACHE_HOME=str(cache))


def prepare_caches(work: Path) -> tuple[Path, Path]:
    """(a cache with the default model exported, one where it is marked unsupported)."""
    from index.export_cache import FORMAT, ExportMeta, fingerprint, model_folder
    from index.settings import DEFAULT_MODEL

    export, torch = work / "cache-export", work / "cache-torch"
    subprocess.run(
        [sys.executable, "-c", "from index.model_export import ensure_export as e; "
         f"assert e({DEFAULT_MODEL!r})"],
        cwd=ROOT, env=child_env(export), check=True,
    )  # fmt: skip
    folder = model_folder(DEFAULT_MODEL)
    assert folder is not None
    key = fingerprint(folder)
    marker = torch / "newsqa" / "exports" / key
    marker.mkdir(parents=True, exist_ok=True)
    meta = ExportMeta(FORMAT, key, str(folder), supported=False, reason="the torch baseline")
    (marker / "meta.json").write_text(meta.to_json())
    return export, torch


def stages_child(index: Path, question: str) -> None:
    """Time each stage of `qa ask` inside one process; print them as JSON."""
    marks = [("start", time.perf_counter())]

    def mark(stage: str) -> None:
        marks.append((stage, time.perf_counter()))

    from qa.cli import build_parser

    build_parser()
    mark("import qa.cli, build the parser (all subcommands)")
    import numpy  # noqa: F401

    mark("import numpy")
    import faiss  # noqa: F401

    mark("import faiss")
    import openvino  # noqa: F401
    import tokenizers  # noqa: F401

    mark("import openvino, tokenizers")
    from index.models import load_embedder
    from index.settings import Settings
    from qa.engine import Engine
    from qa.render import to_text

    mark("import qa.engine, qa.render")
    settings = Settings.from_env({}, index_dir=index)
    embedder = load_embedder(settings)(DEFAULT_MODEL)
    assert type(embedder).__name__ == "ExportedEmbedder", "no model export in XDG_CACHE_HOME"
    mark("load_embedder: fingerprint, compile, tokenizer, canary check")
    engine = Engine(settings, lambda _m: embedder)
    mark("Engine: open the index (SQLite, FAISS file)")
    answer = engine.ask(question)
    mark("first ask")
    to_text(answer)
    mark("render")
    engine.ask(question)
    mark("second ask (same question)")
    print(json.dumps({b[0]: b[1] - a[1] for a, b in itertools.pairwise(marks)}))
    print("torch imported:", "torch" in sys.modules)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--work", type=Path, help="default: $BENCH_WORK or a temporary folder")
    p.add_argument("--child", choices=("stages",), help=argparse.SUPPRESS)
    p.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "stages":
        return stages_child(args.index, QUESTION)
    from benchmarks.common import default_work

    args.work = args.work or default_work()
    # Imported here, not above: the stages child should not pay for them (numpy among them).
    from benchmarks.common import footer, header, median, table
    from benchmarks.corpus import questions, real_chunks
    from benchmarks.synthetic import index_folder

    header(f"cold start to the first answer at {args.chunks} chunks")
    from index.vectors import choose_search

    real = real_chunks(args.work, 2000)
    folder = index_folder(args.work, real, args.chunks, choose_search(args.chunks))
    export_cache, torch_cache = prepare_caches(args.work)
    assert questions(1)  # the question is about a real XQuAD article
    ask = ["-m", "qa", "ask", QUESTION, "--index", str(folder)]
    variants = {
        "python -c pass": (["-c", "print(1)"], export_cache),
        "import torch": (["-c", "import torch; print(1)"], export_cache),
        "import sentence_transformers": (
            ["-c", "import sentence_transformers; print(1)"], export_cache
        ),
        "qa ask QUESTION (the export, OpenVINO)": (ask, export_cache),
        "qa ask QUESTION, torch fallback": (ask, torch_cache),
    }  # fmt: skip
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    spawn(ask, child_env(export_cache))  # the index files into the page cache, as after any use
    for r in range(args.repeats):
        for name, (argv, cache) in variants.items():
            times[name].append(spawn(argv, child_env(cache)))
        print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1][0]:.2f}" for k, v in times.items()))
    rows = [
        [name, median([t[0] for t in ts]), median([t[1] for t in ts]), min(t[0] for t in ts)]
        for name, ts in times.items()
    ]
    print()
    print(
        table(
            ["process", "s to first answer (median)", "s to exit", "s to first answer (min)"], rows
        )
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.cold_start",
            "--child",
            "stages",
            "--index",
            str(folder),
        ],
        cwd=ROOT,
        env=child_env(export_cache),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    print("\nstages of `qa ask` inside one process (one run, seconds):\n")
    print(table(["stage", "s"], [[k, v] for k, v in json.loads(out[-2]).items()]))
    print(f"\n{out[-1]}; medians of {args.repeats} interleaved rounds; index: {folder}")
    footer()


if __name__ == "__main__":
    main()
