"""HNSW recall@10 and latency against exact search, by efSearch, on the benchmark indexes.

    python -m benchmarks.ann [--sizes 100000,1000000] [--questions 200] [--ef 64,128,256,512]

Ground truth is the flat index over the same vectors; queries are real XQuAD questions
embedded by the real model; search runs through VectorIndex.search, as `qa ask` calls it
(k = 50 candidates, recall counted on the top 10 and on all 50). The same is measured on
the real chunk vectors alone (2,088 real embeddings), where HNSW is exact in practice.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.common import default_work, footer, header, median, p95, table
from benchmarks.corpus import questions, real_chunks
from benchmarks.synthetic import index_folder
from index import vectors
from index.vectors import VectorIndex


def sweep(
    name: str, flat: VectorIndex, hnsw: VectorIndex, qvecs: np.ndarray, efs: list[int]
) -> list[list[object]]:
    truth = [[c for c, _ in flat.search(q, 50)] for q in qvecs]
    flat_ms = []
    for q in qvecs:
        started = time.perf_counter()
        flat.search(q, 50)
        flat_ms.append((time.perf_counter() - started) * 1000)
    rows: list[list[object]] = [[name, "flat (exact)", median(flat_ms), p95(flat_ms), 1.0, 1.0]]
    for ef in efs:
        vectors.HNSW_EF_SEARCH = ef
        ms, r10, r50 = [], [], []
        for q, exact in zip(qvecs, truth, strict=True):
            started = time.perf_counter()
            got = [c for c, _ in hnsw.search(q, 50)]
            ms.append((time.perf_counter() - started) * 1000)
            r10.append(len(set(got[:10]) & set(exact[:10])) / 10)
            r50.append(len(set(got) & set(exact)) / 50)
        rows.append([name, f"hnsw efSearch {ef}", median(ms), p95(ms), np.mean(r10), np.mean(r50)])
        print(f"  {name} ef {ef}: recall@10 {np.mean(r10):.3f}, {median(ms):.2f} ms", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="100000,1000000")
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--ef", default="64,128,256,512")
    p.add_argument("--work", type=Path, default=default_work())
    args = p.parse_args()
    header("HNSW recall and latency against exact search")
    from index.settings import DEFAULT_MODEL
    from index.st_embedder import SentenceTransformerEmbedder

    efs = [int(x) for x in args.ef.split(",")]
    default_ef = vectors.HNSW_EF_SEARCH
    embedder = SentenceTransformerEmbedder(DEFAULT_MODEL)
    qvecs = embedder.embed_batch(questions(args.questions, seed=3))
    real = real_chunks(args.work, 2000)
    ids = np.arange(1, len(real.vectors) + 1)
    rows = sweep(
        f"{len(ids)} real",
        VectorIndex.build(ids, real.vectors, real.vectors.shape[1], "flat"),
        VectorIndex.build(ids, real.vectors, real.vectors.shape[1], "hnsw"),
        qvecs,
        efs,
    )
    for size in (int(s) for s in args.sizes.split(",")):
        flat = VectorIndex.load(
            index_folder(args.work, real, size, "flat") / "vectors-000001.faiss"
        )
        hnsw = VectorIndex.load(
            index_folder(args.work, real, size, "hnsw") / "vectors-000001.faiss"
        )
        rows += sweep(f"{size} real-shaped", flat, hnsw, qvecs, efs)
        del flat, hnsw
    vectors.HNSW_EF_SEARCH = default_ef
    print()
    print(
        table(["vectors", "search (k=50)", "median ms", "p95 ms", "recall@10", "recall@50"], rows)
    )
    print(
        f"\n{len(qvecs)} XQuAD questions; HNSW M={vectors.HNSW_M}, "
        f"efConstruction={vectors.HNSW_EF_CONSTRUCTION}; one thread"
    )
    footer()


if __name__ == "__main__":
    main()
