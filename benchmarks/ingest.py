"""Ingest throughput beside the plain sentence-transformers baseline, in the same run.

    python -m benchmarks.ingest [--chunks 2000] [--repeats 3] [--small 160] [--small-repeats 2]

Each run is a fresh child process (so peak memory is its own), and runs are interleaved:
baseline, ours, baseline, ours, ... Medians are reported. Variants:

  st-defaults   the baseline: SentenceTransformer.encode(texts) at its defaults (float32,
                batch 32; encode sorts one call's texts by length) into an IndexFlatIP
  st-unsorted   the same, one encode call per 32 texts in corpus order (no length sorting)
  qa-ingest     index.build.ingest as `qa ingest` runs it (chunking, embedding, SQLite, FAISS)
                with the embedder `qa ingest` loads: the model's export run by OpenVINO at the
                defaults (dtype auto: bfloat16 with AMX or AVX512-BF16; batch 16, a stream
                of batches per core)
  qa-torch      the same pipeline with sentence-transformers (torch) at the same settings:
                the fallback for models that cannot be exported, and round 2's embedder
  qa-float32    qa-ingest with --dtype float32 (what a CPU without fast bfloat16 runs)

The texts are the chunks `qa ingest` makes of real articles (benchmarks/corpus.py): English
and Persian ones by default, one language with --lang. The baseline embeds exactly those
texts. The small section compares every variant on fewer chunks. Drift is measured against
the float32 vectors of the same texts (`drift`): mean cosine, apart for the chunks the model
reads whole and those in a script it reads letter by letter (Persian, whose vectors ingest
makes from their sentences read alone), and the agreement of the top-10 neighbours of 50
real English and 50 real Persian questions.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.common import (
    default_work,
    footer,
    header,
    max_rss_mb,
    median,
    run_child,
    table,
)
from benchmarks.corpus import corpus, questions
from index.embedder import Embedder

MAIN = ("st-defaults", "qa-ingest", "qa-torch")
DRIFT = ("native", "foreign", "en", "fa")  # what `drift` measures
SMALL = ("st-defaults", "st-unsorted", "qa-ingest", "qa-torch", "qa-float32")


class Timed(Embedder):
    """Another embedder, with the seconds spent embedding added up (texts and their
    sentences, as ingest asks for both)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.seconds = 0.0

    def embed_batch(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        started = time.perf_counter()
        out = self.inner.embed_batch(texts)
        self.seconds += time.perf_counter() - started
        return out

    def embed_with_sentences(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        *,
        progress: bool = False,
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        started = time.perf_counter()
        out = self.inner.embed_with_sentences(texts, spans)
        self.seconds += time.perf_counter() - started
        return out

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        return self.inner.token_spans(texts)


def make_embedder(variant: str) -> Embedder:
    from index.models import load_embedder
    from index.settings import DEFAULT_MODEL, Settings
    from index.st_embedder import SentenceTransformerEmbedder

    if variant == "qa-torch":
        return SentenceTransformerEmbedder(DEFAULT_MODEL)
    env = {"QA_DTYPE": "float32"} if variant == "qa-float32" else {}
    return load_embedder(Settings.from_env(env), writing=True)(DEFAULT_MODEL)


def child(variant: str, chunks: int, work: Path, lang: str | None) -> dict:
    """One timed run; vectors of the chunks and of 50 questions saved for the drift figures."""
    from index.embedder import normalise
    from index.sentence_vectors import reads_letter_by_letter
    from index.settings import Settings

    embedder = make_embedder(variant)
    items = []
    total = 0
    for article, texts in corpus(
        chunks, embedder, lang
    ):  # the first `chunks` chunks, whole articles
        items.append((article, texts))
        total += len(texts)
        if total >= chunks:
            break
    texts = [t for _, ts in items for t in ts]
    qvecs = embedder.embed_batch(questions(50, seed=2))
    qvecs_fa = embedder.embed_batch(questions(50, seed=2, lang="fa"))
    foreign = [
        reads_letter_by_letter(t, o)
        for t, o in zip(texts, embedder.token_spans(texts), strict=True)
    ]
    embedder.embed_batch(texts[:8])  # warm up
    started = time.perf_counter()
    embed_seconds = None
    if variant.startswith("st-"):
        import faiss
        from sentence_transformers import SentenceTransformer

        from index.embedder import resolve_model
        from index.settings import DEFAULT_MODEL

        model = SentenceTransformer(resolve_model(DEFAULT_MODEL), device="cpu")
        model.encode(texts[:8])  # warm up
        started = time.perf_counter()
        if variant == "st-defaults":
            vecs = model.encode(texts)
        else:
            vecs = np.concatenate(
                [model.encode(texts[i : i + 32]) for i in range(0, len(texts), 32)]
            )
        index = faiss.IndexFlatIP(vecs.shape[1])
        index.add(np.ascontiguousarray(normalise(vecs)))
        seconds = time.perf_counter() - started
        vecs = normalise(vecs)
    else:
        from index.build import ingest
        from index.store import Store

        timed = Timed(embedder)
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            settings = Settings.from_env({}, index_dir=Path(tmp) / "index")
            report = ingest(settings, (a for a, _ in items), lambda _m: timed)
            seconds = time.perf_counter() - started
            store = Store(settings.index_dir / "store.sqlite3", readonly=True)
            ids, vecs = store.vectors(timed.dimension)
            with_sentences = len(store.sentence_vectors(ids.tolist(), timed.dimension))
            store.close()
        assert with_sentences == len(ids), "ingest stores every chunk's sentence vectors"
        assert report.chunks == len(texts), (report.summary(), len(texts))
        embed_seconds = timed.seconds
    np.save(work / f"ingest-{variant}-{chunks}.npy", vecs)
    np.save(work / f"ingest-{variant}-{chunks}-q.npy", qvecs)
    np.save(work / f"ingest-{variant}-{chunks}-qfa.npy", qvecs_fa)
    np.save(work / f"ingest-{variant}-{chunks}-foreign.npy", np.array(foreign, dtype=bool))
    (work / f"ingest-{variant}-{chunks}-texts.json").write_text(json.dumps(texts), "utf-8")
    return {
        "variant": variant,
        "chunks": len(texts),
        "articles": len(items),
        "seconds": seconds,
        "embed_seconds": embed_seconds,
        "max_rss_mb": max_rss_mb(),
    }


def drift(work: Path, chunks: int, variant: str, reference: str) -> dict[str, float]:
    """How far a variant's vectors are from the reference's, on the texts both embedded (a
    tokenizer that differs can chunk a few articles differently), each text once (duplicates
    would make ties): the mean cosine over the texts the model reads whole ("native") and
    over those in a script it reads letter by letter ("foreign", whose vectors ingest makes
    from their sentences read alone), and the agreement of the top-10 neighbours of 50 real
    questions in English ("en") and in Persian ("fa"), over all the texts.
    """

    def load(v: str, name: str) -> np.ndarray:
        return np.load(work / f"ingest-{v}-{chunks}{name}.npy")

    def rows(v: str) -> dict[str, int]:
        texts = json.loads((work / f"ingest-{v}-{chunks}-texts.json").read_text("utf-8"))
        return {t: i for i, t in enumerate(texts)}

    rows_a, rows_b = rows(variant), rows(reference)
    common = sorted(set(rows_a) & set(rows_b))
    a = load(variant, "")[[rows_a[t] for t in common]]
    b = load(reference, "")[[rows_b[t] for t in common]]
    foreign = load(reference, "-foreign")[[rows_b[t] for t in common]]
    cosines = (a * b).sum(axis=1)
    out = {
        "native": float(cosines[~foreign].mean()) if (~foreign).any() else float("nan"),
        "foreign": float(cosines[foreign].mean()) if foreign.any() else float("nan"),
    }
    for lang, name in (("en", "-q"), ("fa", "-qfa")):
        qa, qb = load(variant, name), load(reference, name)
        if not len(qa):
            out[lang] = float("nan")
            continue
        top_a = np.argsort(-(qa @ a.T), axis=1)[:, :10]
        top_b = np.argsort(-(qb @ b.T), axis=1)[:, :10]
        out[lang] = float(
            np.mean([len(set(x) & set(y)) / 10 for x, y in zip(top_a, top_b, strict=True)])
        )
    return out


def section(
    title: str,
    variants: Sequence[str],
    chunks: int,
    repeats: int,
    work: Path,
    ref: str,
    lang: str | None,
) -> None:
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for r, v in itertools.product(range(repeats), variants):
        res = run_child(["-m", "benchmarks.ingest", "--child", v, "--chunks", str(chunks),
                         "--work", str(work), "--lang", lang or "all"]).data  # fmt: skip
        runs[v].append(res)
        with (work / f"ingest-runs-{chunks}.jsonl").open("a") as f:
            f.write(json.dumps(res) + "\n")
        print(f"  run {r + 1} {v}: {res['chunks'] / res['seconds']:.1f} chunks/s", flush=True)
    base = median([x["chunks"] / x["seconds"] for x in runs[variants[0]]])
    rows = []
    for v in variants:
        rs = runs[v]
        rate = median([x["chunks"] / x["seconds"] for x in rs])
        embed = [x["chunks"] / x["embed_seconds"] for x in rs if x["embed_seconds"]]
        d = drift(work, chunks, v, ref) if v != ref else dict.fromkeys(DRIFT, 1.0)
        foreign = int(np.load(work / f"ingest-{ref}-{chunks}-foreign.npy").sum())
        rows.append(
            [v, rs[0]["chunks"], foreign, rs[0]["articles"], rate,
             median(embed) if embed else "-", median([x["articles"] / x["seconds"] for x in rs]),
             f"{rate / base:.2f}x", median([x["max_rss_mb"] for x in rs]),
             f"{d['native']:.5f}", f"{d['foreign']:.5f}", f"{d['en']:.3f}", f"{d['fa']:.3f}"]
        )  # fmt: skip
    print(f"\n## {title}\n")
    print(
        table(
            ["variant", "chunks", "of them foreign", "articles", "chunks/s",
             "chunks/s embedding alone", "articles/s", f"vs {variants[0]}", "peak RSS MB",
             f"mean cosine vs {ref}, native", "foreign", "top-10 agreement, en questions",
             "fa questions"],
            rows,
        )
    )  # fmt: skip
    print(f"\nmedians of {repeats} interleaved runs each\n", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, default=2000, help="0: the small section only")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--small", type=int, default=160, help="chunks for every variant; 0: none")
    p.add_argument("--small-repeats", type=int, default=2)
    p.add_argument("--work", type=Path, default=default_work())
    p.add_argument(
        "--lang",
        choices=("all", "en", "fa"),
        default="all",
        help="the articles of one language only (default: all, English and Persian)",
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    lang = None if args.lang == "all" else args.lang
    if args.child:
        print(json.dumps(child(args.child, args.chunks, args.work, lang)))
        return
    header("ingest throughput beside the sentence-transformers baseline")
    of = f" ({args.lang} articles)" if lang else " (English and Persian articles)"
    if args.chunks:
        section(f"ingest{of}", MAIN, args.chunks, args.repeats, args.work, "st-defaults", lang)
    if args.small:
        section(
            f"ingest, the variants tried, on fewer chunks{of}",
            SMALL,
            args.small,
            args.small_repeats,
            args.work,
            "st-defaults",
            lang,
        )
    footer()


if __name__ == "__main__":
    main()
