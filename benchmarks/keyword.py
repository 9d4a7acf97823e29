"""Keyword search (`Store.keyword`, FTS5 BM25) alone at 100k and 1M chunks, before and after.

    python -m benchmarks.keyword [--sizes 100000,1000000] [--questions 100]
                                 [--budgets 3000,6000,10000]

Opens the synthetic stores of benchmarks/synthetic.py (`store-N` in $BENCH_WORK, built on the
first run, no vector file needed) and asks real questions, English (XQuAD) and Persian
(PersianQA), of each query form in turn, the order alternating question by question:

- every word (before): every folded word ORed, on a connection with SQLite's default 2 MB
  page cache: `Store.keyword` as it was (the baseline);
- no stopwords: the content words ORed, every one of them, on that connection;
- budget B: `Store.keyword` as the retriever calls it: the rarest content words, up to B
  postings, required and the others scored where they are (index/keyword_query.py), on a
  reading Store's connection (a 32 MB page cache); the default budget is marked, and run
  once more on a Store whose connection is set back to the 2 MB cache.

It prints wall and CPU milliseconds per question (medians, 95th percentile) and, as a proxy
of quality at that size, the share of questions whose gold answer text is in one of the top
5 or top 50 chunks. The stores repeat about 2,000 real chunks, so every real chunk is there
many times over and a word's document frequency grows with the size: harder on the budget
than a real archive, where the rare words stay rare.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import SHARED, default_work, footer, header, median, p95, table
from benchmarks.corpus import real_chunks
from benchmarks.synthetic import index_folder
from index.keyword_query import POSTINGS_BUDGET, match_expression, query_terms
from index.keyword_search import KeywordSearch
from index.store import Store
from index.textnorm import terms
from qa.eval_data import EvalQuestion, contains_answer, load_squad

SETS = {
    "en": SHARED / "eval" / "xquad" / "xquad.en.json",
    "fa": SHARED / "eval" / "persianqa" / "pqa_test.json",
}

Search = Callable[[str, int], list[tuple[int, float]]]


def store_folder(work: Path, n: int) -> Path:
    """benchmarks.query's flat index of `n` chunks (its keyword rows are the local search
    backend's, in the store's file): built once and kept."""
    return index_folder(work, real_chunks(work, 2000), n, "flat")


def sample(per_set: int, seed: int = 1) -> list[tuple[str, EvalQuestion]]:
    """`per_set` answerable questions of each set on this machine, shuffled with `seed`."""
    out = []
    for lang, path in SETS.items():
        if path.exists():
            qs = [q for q in load_squad(path).questions if q.answers]
            random.Random(seed).shuffle(qs)
            out += [(lang, q) for q in qs[:per_set]]
    return out


def raw(db: sqlite3.Connection, words: Callable[[str], list[str]]) -> Search:
    """A BM25 query of `words(text)` ORed, as Store.keyword ran it before the budget."""

    def search(text: str, k: int) -> list[tuple[int, float]]:
        chosen = words(text)
        if not chosen:
            return []
        rows = db.execute(
            "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
            "ORDER BY bm25(chunks_fts) LIMIT ?",
            (match_expression(chosen), k),
        )
        return [(int(r), -float(s)) for r, s in rows]

    return search


def budgeted(store: Store, budget: int) -> Search:
    """Store.keyword as the retriever calls it, with this budget."""
    keywords = KeywordSearch(store.connection)
    return lambda text, k: keywords.search(text, k, budget=budget)


def measure(store: Store, forms: dict[str, Search], qs: list[tuple[str, EvalQuestion]]) -> dict:
    """Per form and language: wall ms, CPU ms, answer in the top 5 / top 50."""
    for search in forms.values():  # warm up: fault the index's pages in
        for _, q in qs[:5]:
            search(q.text, 50)
    out: dict = {f: {"wall": [], "cpu": [], "lang": []} for f in forms}
    for n, (lang, q) in enumerate(qs):
        order = list(forms) if n % 2 == 0 else list(forms)[::-1]
        for f in order:
            wall, cpu = time.perf_counter(), time.thread_time()
            hits = forms[f](q.text, 50)
            out[f]["cpu"].append((time.thread_time() - cpu) * 1000)
            out[f]["wall"].append((time.perf_counter() - wall) * 1000)
            texts = store.chunks([cid for cid, _ in hits])
            found = [contains_answer(texts[c].text, q.answers) for c, _ in hits if c in texts]
            out[f]["lang"].append((lang, any(found[:5]), any(found)))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="100000,1000000")
    p.add_argument("--questions", type=int, default=100, help="of each language")
    p.add_argument("--budgets", default=f"3000,{POSTINGS_BUDGET},10000")
    p.add_argument("--work", type=Path, default=default_work())
    args = p.parse_args()
    header("keyword search alone: every word, no stopwords, rarest words within a budget")
    qs = sample(args.questions)
    print(f"{len(qs)} questions (English XQuAD and Persian PersianQA, answerable)\n")
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        path = store_folder(args.work, size) / "store.sqlite3"
        store = Store(path, readonly=True)
        before = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        forms: dict[str, Search] = {
            "every word (before)": raw(before, lambda t: list(dict.fromkeys(terms(t)))),
            "no stopwords": raw(before, query_terms),
        }
        for b in (int(x) for x in args.budgets.split(",")):
            mark = " (default)" if b == POSTINGS_BUDGET else ""
            forms[f"budget {b}{mark}"] = budgeted(store, b)
        small = Store(path, readonly=True)
        small.connection.execute("PRAGMA cache_size = -2000")  # SQLite's default
        forms[f"budget {POSTINGS_BUDGET}, 2 MB cache"] = budgeted(small, POSTINGS_BUDGET)
        print(f"measuring {size} chunks ...", flush=True)
        result = measure(store, forms, qs)
        for db in (store, small, before):
            db.close()
        for f, r in result.items():
            share = {
                lang: [(top5, top50) for x, top5, top50 in r["lang"] if x == lang] for lang in SETS
            }
            rows.append(
                [size, f, median(r["wall"]), p95(r["wall"]), median(r["cpu"]), p95(r["cpu"]),
                 *(f"{sum(t[i] for t in share[lang]) / max(1, len(share[lang])):.2f}"
                   for lang in SETS for i in (0, 1))]
            )  # fmt: skip
    print()
    print(
        table(
            ["chunks", "query", "wall ms median", "wall p95", "CPU ms median", "CPU p95",
             "en answer@5", "en answer@50", "fa answer@5", "fa answer@50"],
            rows,
        )
    )  # fmt: skip
    print("\nanswer@k: share of questions whose gold answer text is in a top-k chunk (a proxy)")
    footer()


if __name__ == "__main__":
    main()
