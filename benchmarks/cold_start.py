"""Cold start: seconds from process start to the first answer, at 100k chunks.

    python -m benchmarks.cold_start [--chunks 100000] [--repeats 5]

Runs, interleaved and repeated, each a fresh process timed from spawn to its first line of
output (the answer) and to its exit:

  python -c pass                 the interpreter alone
  import torch                   the floor under anything that uses torch
  import sentence_transformers   what the project's embedder imports
  qa ask QUESTION                the real command, over the 100k index (flat, as auto picks)
  onnx prototype                 the same Engine and index with the float32 ONNX Runtime
                                 embedder of benchmarks/onnx_embedder.py (no torch imported)

then one child that times the stages of `qa ask` inside the process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, default_work, footer, header, median, table
from benchmarks.corpus import questions, real_chunks
from benchmarks.synthetic import index_folder

QUESTION = "What did the Panthers defense do in the 2015 season?"


def spawn(args: list[str]) -> tuple[float, float]:
    """(seconds to the first line of stdout, seconds to exit) of `python args...`."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
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


def onnx_child(index: Path, question: str, work: Path) -> None:
    """Answer one question with the ONNX prototype embedder; print the answer first."""
    from benchmarks.onnx_embedder import OnnxEmbedder
    from index.embedder import resolve_model
    from index.settings import DEFAULT_MODEL, Settings
    from qa.engine import Engine
    from qa.render import to_text

    folder = Path(resolve_model(DEFAULT_MODEL))
    embedder = OnnxEmbedder(folder, work / "minilm.onnx")
    engine = Engine(Settings.from_env({}, index_dir=index), lambda _m: embedder)
    print(to_text(engine.ask(question)).replace("\n", " ")[:200], flush=True)
    print("torch imported:", "torch" in sys.modules)
    engine.close()


def stages_child(index: Path, question: str) -> None:
    """Time each stage of a `qa ask` inside one process; print them as JSON."""
    t0 = time.perf_counter()
    import sentence_transformers  # noqa: F401

    t1 = time.perf_counter()
    from index.embedder import SentenceTransformerEmbedder
    from index.reader import IndexReader
    from index.settings import DEFAULT_MODEL, Settings
    from qa.engine import Engine

    embedder = SentenceTransformerEmbedder(DEFAULT_MODEL)
    t2 = time.perf_counter()
    IndexReader(index).close()
    t3 = time.perf_counter()
    engine = Engine(Settings.from_env({}, index_dir=index), lambda _m: embedder)
    t4 = time.perf_counter()
    engine.ask(question)
    t5 = time.perf_counter()
    engine.ask(question)
    t6 = time.perf_counter()
    print(
        json.dumps(
            {
                "import sentence_transformers (and torch)": t1 - t0,
                "load the model": t2 - t1,
                "open the index (SQLite + FAISS file)": t3 - t2,
                "Engine (index again, page cache warm)": t4 - t3,
                "first ask": t5 - t4,
                "second ask": t6 - t5,
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--work", type=Path, default=default_work())
    p.add_argument("--child", choices=("onnx", "stages"), help=argparse.SUPPRESS)
    p.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "onnx":
        return onnx_child(args.index, QUESTION, args.work)
    if args.child == "stages":
        return stages_child(args.index, QUESTION)
    header(f"cold start to the first answer at {args.chunks} chunks")
    from index.vectors import choose_search

    real = real_chunks(args.work, 2000)
    folder = index_folder(args.work, real, args.chunks, choose_search(args.chunks))
    from benchmarks.onnx_embedder import export
    from index.embedder import resolve_model
    from index.settings import DEFAULT_MODEL

    export(Path(resolve_model(DEFAULT_MODEL)), args.work / "minilm.onnx")
    assert questions(1)  # the question is about a real XQuAD article
    variants = {
        "python -c pass": ["-c", "print(1)"],
        "import torch": ["-c", "import torch; print(1)"],
        "import sentence_transformers": ["-c", "import sentence_transformers; print(1)"],
        "qa ask QUESTION": ["-m", "qa", "ask", QUESTION, "--index", str(folder)],
        "onnx prototype (same Engine)": [
            "-m", "benchmarks.cold_start", "--child", "onnx", "--index", str(folder),
            "--work", str(args.work),
        ],
    }  # fmt: skip
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    spawn(variants["qa ask QUESTION"])  # the index files into the page cache, as after any use
    for r in range(args.repeats):
        for name, argv in variants.items():
            times[name].append(spawn(argv))
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
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[-1]
    print("\nstages of `qa ask` inside one process (one run, seconds):\n")
    print(table(["stage", "s"], [[k, v] for k, v in json.loads(out).items()]))
    print(f"\nmedians of {args.repeats} interleaved rounds; index: {folder}")
    footer()


if __name__ == "__main__":
    main()
