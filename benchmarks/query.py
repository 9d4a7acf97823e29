"""`qa ask` latency at 10k, 100k and 1M chunks, exact (flat) beside approximate (HNSW).

    python -m benchmarks.query [--sizes 10000,100000,1000000] [--questions 100]
                               [--plot docs/query_latency.png]

For each size it opens two engines on the same chunks, one with each kind of vector file,
sharing one model, and asks each real XQuAD question of both in turn (the order alternating),
as `qa ask` does in batch mode: embedding, dense + keyword retrieval, fusion, quotes. Then it
times each stage on its own, measures recall@10 of both against exact float32 search over the
store's own vectors (the flat index holds them as float16), and runs the real
`python -m qa ask` over 10 questions in a child process for its peak resident memory.
Indexes beyond 2,000 chunks hold synthetic vectors around real embeddings with real stored text
(benchmarks/synthetic.py), so their recall is a proxy; the docs say how it compares.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, default_work, footer, header, median, p95, table
from benchmarks.corpus import questions, real_chunks
from benchmarks.synthetic import index_folder

KINDS = ("flat", "hnsw")
# Each alone, then as `qa ask` runs them: "retrieve" is dense and keyword search (on two
# threads), fusion and fetching the passages; "embed+retrieve" embeds the question while
# keyword search runs.
STAGES = ("embed", "dense", "keyword", "retrieve", "embed+retrieve", "quotes")


def peak_rss_mb(args: list[str], stdin_text: str) -> tuple[float, float]:
    """(peak resident MB, seconds) of `python args...` fed `stdin_text`, stdout discarded.

    The peak is the child's VmHWM, polled until it exits: getrusage's ru_maxrss would not
    do, because Linux carries it across exec from the forked copy of this (large) process.
    """
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    path = default_work() / "stdin.txt"
    path.write_text(stdin_text, encoding="utf-8")
    started = time.perf_counter()
    peak = 0.0
    with path.open() as f:
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdin=f, stdout=subprocess.DEVNULL
        )
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) / 1024)
            except (OSError, ValueError):
                pass  # exiting between poll() and the read
            time.sleep(0.05)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed")
    return peak, time.perf_counter() - started


def now_ms() -> float:
    return time.perf_counter() * 1000


def read_into_page_cache(folder: Path) -> float:
    """Read every file of an index folder once (as a running bot has it in memory); seconds.

    Without this the figures are the disk's: after the 1M stores were built, a 100k store
    left out of the page cache answered with a p95 of 3 s here, from reads alone.
    """
    started = time.perf_counter()
    for path in folder.iterdir():
        if path.is_file():
            with path.open("rb", buffering=0) as f:
                while f.read(1 << 23):
                    pass
    return time.perf_counter() - started


def measure(size: int, folders: dict[str, Path], qs: list[str]) -> dict:
    """Per kind: end-to-end and per-stage milliseconds, recall@10/@50 against float32 exact."""
    from index.manifest import Layout, Manifest
    from index.models import load_embedder
    from index.settings import DEFAULT_MODEL, Settings
    from index.store import Store
    from qa.answer import Question
    from qa.engine import Engine
    from qa.quotes import pick_quotes, score_sentences

    # What `qa ask` embeds questions with: the model's export where there is one.
    embedder = load_embedder(Settings.from_env({}))(DEFAULT_MODEL)
    engines = {
        k: Engine(Settings.from_env({}, index_dir=f), lambda _m: embedder)
        for k, f in folders.items()
    }
    for k, f in folders.items():
        print(f"  {k}: files read into the page cache in {read_into_page_cache(f):.0f} s")
    # Warm up on as many other questions: first calls allocate and fault pages in.
    others = [q for q in questions(3 * len(qs), seed=2) if q not in set(qs)][: len(qs)]
    for e in engines.values():
        for q in others:
            e.ask(q)
    total: dict[str, list[float]] = {k: [] for k in engines}
    for n, q in enumerate(qs):
        order = list(engines) if n % 2 == 0 else list(engines)[::-1]
        for k in order:
            t = now_ms()
            engines[k].ask(q)
            total[k].append(now_ms() - t)
    stages: dict[str, dict[str, list[float]]] = {k: {s: [] for s in STAGES} for k in engines}
    # The truth: every stored float32 vector scored, which neither index does. Made before
    # the stages are timed: a scan of the whole array between them would evict the model.
    store = Store(Layout(next(iter(folders.values()))).store)
    ids, vectors = store.vectors(Manifest.from_dict(store.get_meta("manifest")).dimension)
    store.close()
    exact = {}
    for q in qs:
        scores = vectors @ np.asarray(embedder.embed_query(q), np.float32)
        top = np.argpartition(-scores, 50)[:50]
        exact[q] = set(ids[top[np.argsort(-scores[top])][:10]].tolist()), set(ids[top].tolist())
    del vectors  # 1.5 GB at 1M
    overlap: dict[str, dict[int, list[float]]] = {k: {10: [], 50: []} for k in engines}
    for q in qs:
        question = Question.parse(q)
        t = now_ms()
        vec = embedder.embed_query(q)
        embed_ms = now_ms() - t
        tops = {}
        for k, e in engines.items():
            st = stages[k]
            st["embed"].append(embed_ms)
            t = now_ms()
            tops[k] = e.reader.dense(vec, 50)
            st["dense"].append(now_ms() - t)
            t = now_ms()
            e.reader.keyword(q, 50)
            st["keyword"].append(now_ms() - t)
            t = now_ms()
            _, hits = e.retriever.embed_and_search(question, query=vec)
            st["retrieve"].append(now_ms() - t)
            t = now_ms()
            e.retriever.embed_and_search(question)
            st["embed+retrieve"].append(now_ms() - t)
            t = now_ms()
            scored = score_sentences(question, vec, hits, e.sentence_vectors, e.quote_settings)
            pick_quotes(scored, e.quote_settings)
            st["quotes"].append(now_ms() - t)
        for k, top in tops.items():
            for n, want in zip((10, 50), exact[q], strict=True):
                overlap[k][n].append(len({m.id for m in top[:n]} & want) / n)
    for e in engines.values():
        e.close()
    out: dict = {"size": size}
    for k in engines:
        out[k] = {
            "median": median(total[k]),
            "p95": p95(total[k]),
            **{s: median(v) for s, v in stages[k].items()},
            "recall10": median_mean(overlap[k][10]),
            "recall50": median_mean(overlap[k][50]),
        }
    return out


def median_mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def memory(folders: dict[str, Path], qs: list[str]) -> dict[str, tuple[float, float]]:
    """Peak RSS and wall seconds of `python -m qa ask --json` over the questions, per kind."""
    return {
        k: peak_rss_mb(["-m", "qa", "ask", "--json", "--index", str(f)], "\n".join(qs) + "\n")
        for k, f in folders.items()
    }


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["size"] for r in results]
    fig, ax = plt.subplots(figsize=(7, 5.5))
    for kind, colour in (("flat", "tab:red"), ("hnsw", "tab:blue")):
        label = "exact (flat, float16)" if kind == "flat" else "approximate (HNSW)"
        ax.plot(sizes, [r[kind]["median"] for r in results], "o-", color=colour,
                label=f"qa ask, {label}: median")  # fmt: skip
        ax.plot(sizes, [r[kind]["p95"] for r in results], "o:", color=colour, alpha=0.6,
                label=f"qa ask, {label}: 95th percentile")  # fmt: skip
        ax.plot(sizes, [r[kind]["dense"] for r in results], "s--", color=colour, alpha=0.8,
                label=f"dense search alone, {label}: median")  # fmt: skip
    ax.axhline(20, color="grey", linewidth=0.8, linestyle="-.")
    ax.axhline(30, color="grey", linewidth=0.8, linestyle="-.")
    ax.text(sizes[-1], 32, "targets: 20 ms (100k, exact), 30 ms (1M)", fontsize=7, color="grey",
            ha="right")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("milliseconds per question")
    ax.set_title(f"Query latency against index size ({os.cpu_count()} shared cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--questions", type=int, default=100)
    p.add_argument("--work", type=Path, default=default_work())
    p.add_argument("--plot", type=Path, help="write the latency plot (PNG) here")
    p.add_argument("--no-memory", action="store_true", help="skip the child-process RSS runs")
    p.add_argument("--memory-only", action="store_true", help="only the child-process RSS runs")
    p.add_argument("--replot", action="store_true", help="plot the saved results, measure nothing")
    args = p.parse_args()
    if args.replot:
        return plot(json.loads((args.work / "query-results.json").read_text()), args.plot)
    header("qa ask latency: exact beside approximate search")
    args.work.mkdir(parents=True, exist_ok=True)
    real = real_chunks(args.work, 2000)
    qs = questions(args.questions, seed=1)
    print(f"{len(qs)} XQuAD questions; anchors: {len(real.bodies)} real chunks embedded\n")
    results: list[dict] = []
    mem: dict[int, dict[str, tuple[float, float]]] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        folders = {k: index_folder(args.work, real, size, k) for k in KINDS}
        if args.memory_only:
            for k, (rss, seconds) in memory(folders, qs[:10]).items():
                print(f"{size} {k}: qa ask peak RSS {rss:.0f} MB ({seconds:.0f} s, 10 questions)")
            continue
        print(f"measuring {size} chunks ...", flush=True)
        results.append(measure(size, folders, qs))
        if not args.no_memory:
            mem[size] = memory(folders, qs[:10])
    if args.memory_only:
        return footer()
    # Kept by size, so that runs of different sizes (1M alone, say) plot together.
    saved = args.work / "query-results.json"
    kept = json.loads(saved.read_text()) if saved.exists() else []
    merged = {r["size"]: r for r in [*kept, *results]}
    saved.write_text(json.dumps([merged[k] for k in sorted(merged)], indent=1))
    rows = []
    for r in results:
        for k in KINDS:
            x = r[k]
            rows.append(
                [r["size"], k, x["median"], x["p95"], x["embed"], x["dense"], x["keyword"],
                 x["retrieve"], x.get("embed+retrieve", "-"), x["quotes"],
                 f"{x['recall10']:.3f}" if "recall10" in x else "-",
                 f"{mem[r['size']][k][0]:.0f}" if r["size"] in mem else "-"]
            )  # fmt: skip
    print()
    print(
        table(
            ["chunks", "search", "qa ask median ms", "p95 ms", "embed", "dense", "keyword",
             "retrieve (dense+keyword, fusion, fetch)", "embed+retrieve", "quotes",
             "recall@10 vs float32 exact",
             "peak RSS MB (qa ask, 10 q)"],
            rows,
        )
    )  # fmt: skip
    print("\nstage columns: medians in ms, each stage timed alone on the same questions")
    print(
        "flat stores float16 vectors and HNSW float32; recall@50 (the fused candidates):",
        {f"{r['size']} {k}": round(r[k]["recall50"], 3) for r in results for k in KINDS},
    )
    if args.plot:
        plot(results, args.plot)
    footer()


if __name__ == "__main__":
    main()
