"""The model's pass with dynamic shapes (what ingest runs) beside one static shape per width.

    python -m benchmarks.shapes [--chunks 2000] [--repeats 3] [--lang en]

OpenVINO runs a graph compiled for one fixed (batch, width) faster than the same graph
compiled for any shape, but each width needs its own compile and its own memory. This
measures whether that pays at ingest's batches: the chunk texts of the benchmark corpus
(benchmarks/corpus.py), tokenised, sorted longest first and padded exactly as ingest feeds
them (batches of 16, each padded to a multiple of 16 word-pieces), through

  dynamic        the compiled model ingest loads (any batch, any width), one queue of as
                 many requests as it has streams
  static, cold   a model compiled for each width the batches have, compiled when its first
                 batch comes (the first ingest of a process); compiling is part of the time
  static, warm   the same models, already compiled (the steady state of a long ingest)

Partial batches (fewer than 16 texts) run on the dynamic model in both static variants.
Rounds are interleaved and medians reported; the memory column is the resident memory the
compiled static models add.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import footer, header, median, rss_mb, table
from benchmarks.corpus import corpus


class Runner:
    """Batches of feeds through a dynamic model, or a static model per width."""

    def __init__(self, embedder: Any, export: Path, feeds: list[dict[str, np.ndarray]]) -> None:
        import openvino as ov

        self.ov = ov
        self.batch_size = embedder.batch_size  # full batches run on the static models
        self.feeds = feeds
        self.dynamic = embedder.compiled  # the compiled model ingest runs
        self.jobs = embedder.streams
        self.config = {
            "INFERENCE_PRECISION_HINT": self.dynamic.get_property("INFERENCE_PRECISION_HINT"),
            "PERFORMANCE_HINT": "THROUGHPUT",
        }
        self.core = ov.Core()
        self.graph = self.core.read_model(str(export / "model.xml"))

    def run(self, static: dict[int, Any] | None) -> tuple[float, float]:
        """Seconds for every batch, and of them compiling; `static` None: dynamic only, else
        the static models so far by width (compiled into it as their widths come)."""
        free = threading.Semaphore(self.jobs)  # requests in flight, over every queue

        def done(_request: Any, _userdata: Any) -> None:
            free.release()

        queues: dict[int, Any] = {}

        def queue(width: int, model: Any) -> Any:
            if width not in queues:
                queues[width] = self.ov.AsyncInferQueue(model, self.jobs)
                queues[width].set_callback(done)
            return queues[width]

        compiling = 0.0
        started = time.perf_counter()
        for feed in self.feeds:
            rows, width = feed["input_ids"].shape
            model, key = self.dynamic, 0
            if static is not None and rows == self.batch_size:
                if width not in static:
                    t = time.perf_counter()
                    graph = self.graph.clone()
                    graph.reshape({i.any_name: [rows, width] for i in graph.inputs})
                    static[width] = self.core.compile_model(graph, "CPU", self.config)
                    compiling += time.perf_counter() - t
                model, key = static[width], width
            free.acquire()
            queue(key, model).start_async(feed)
        for q in queues.values():
            q.wait_all()
        return time.perf_counter() - started, compiling


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--lang",
        choices=("all", "en", "fa"),
        default="en",
        help="the corpus's articles of one language, or all (default: en); every chunk text "
        "goes through whole, where ingest reads Persian chunks sentence by sentence",
    )
    args = p.parse_args()
    from benchmarks.ingest import make_embedder
    from index.model_export import ensure_export
    from index.openvino_embedder import ExportedEmbedder
    from index.settings import DEFAULT_MODEL

    header("the model's pass: dynamic shapes beside a static shape per width")
    embedder = make_embedder("qa-ingest")
    export = ensure_export(DEFAULT_MODEL)  # the folder the loaded model came from
    if not isinstance(embedder, ExportedEmbedder) or export is None:
        raise SystemExit("ingest does not run an OpenVINO export here: nothing to compare")
    texts: list[str] = []
    for _, chunk_texts in corpus(args.chunks, embedder, None if args.lang == "all" else args.lang):
        texts.extend(chunk_texts)
        if len(texts) >= args.chunks:
            break
    feeds = embedder.feeds(texts)  # as ingest tokenises, orders and pads them
    size = embedder.batch_size
    widths = Counter(f["input_ids"].shape[1] for f in feeds if len(f["input_ids"]) == size)
    print(f"{len(texts)} chunk texts ({args.lang}), {len(feeds)} batches of up to {size}")
    print("full batches by width: " + ", ".join(f"{w}: {n}" for w, n in sorted(widths.items())))
    print(flush=True)

    runner = Runner(embedder, export, feeds)
    runner.run(None)  # warm up: every width's kernels once
    seconds: dict[str, list[float]] = {"dynamic": [], "static, cold": [], "static, warm": []}
    compile_seconds: list[float] = []
    added_mb: list[float] = []
    for r in range(args.repeats):
        seconds["dynamic"].append(runner.run(None)[0])
        static: dict[int, Any] = {}
        before = rss_mb()
        cold, compiling = runner.run(static)
        added_mb.append(rss_mb() - before)
        seconds["static, cold"].append(cold)
        compile_seconds.append(compiling)
        seconds["static, warm"].append(runner.run(static)[0])
        del static
        print(
            f"  round {r + 1}: "
            + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in seconds.items())
            + f" (compiling {compiling:.2f} s)",
            flush=True,
        )
    base = median(seconds["dynamic"])
    rows = []
    for name, values in seconds.items():
        s = median(values)
        static_row = name != "dynamic"
        rows.append(
            [
                name,
                len(widths) if static_row else 1,
                s,
                len(texts) / s,
                f"{base / s:.2f}x",
                median(compile_seconds) if name == "static, cold" else "-",
                median(added_mb) if static_row else "-",
            ]
        )
    print()
    headers = ["variant", "compiled models", "seconds", "texts/s", "vs dynamic"]
    print(table([*headers, "compiling s", "MB added"], rows))
    print(f"\nmedians of {args.repeats} interleaved rounds")
    footer()


if __name__ == "__main__":
    main()
