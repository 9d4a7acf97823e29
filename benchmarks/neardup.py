"""Near-duplicate detection: which signal tells a republished story from a different one?

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.neardup [--articles 24]

Real text: XQuAD's English articles (../shared/eval), each with four edited copies (new
headline and a changed sentence, a trailing paragraph from another article, paragraphs
reordered, the lead paragraph dropped). Hard negatives: each article's first and second
halves as two articles on the same topic that share no text (judged against each other and
against other stories; against their own article they are excerpts, an unclear case).
Prints precision and recall of every pair decision, at the best threshold of each method,
and of the pipeline ingest uses.
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.neardup import CANDIDATE_COSINE, SAME_STORY, containment, shingles

XQUAD = Path(__file__).resolve().parent.parent.parent / "shared/eval/xquad/xquad.en.json"


@dataclass(frozen=True)
class Doc:
    story: str  # documents with the same story are near duplicates
    title: str
    text: str


def corpus(n: int) -> list[Doc]:
    data = json.loads(XQUAD.read_text())["data"][:n]
    docs = []
    for i, entry in enumerate(data):
        paras = [p["context"] for p in entry["paragraphs"]]
        title = entry["title"].replace("_", " ")
        other = data[(i + 1) % len(data)]["paragraphs"][0]["context"]
        body = "\n".join(paras)
        first = paras[0].split(". ")
        changed = "\n".join([". ".join([*first[:-1], "It was reported later"]), *paras[1:]])
        docs += [
            Doc(f"s{i}", title, body),
            Doc(f"s{i}", f"Update: {title} in the news", changed),
            Doc(f"s{i}", title, body + "\n" + other),
            Doc(f"s{i}", title, "\n".join(paras[1:] + paras[:1])),
            Doc(f"s{i}", f"{title} (wire)", "\n".join(paras[1:])),
        ]
        half = len(paras) // 2
        docs += [
            Doc(f"h{i}a", title, "\n".join(paras[:half])),
            Doc(f"h{i}b", title, "\n".join(paras[half:])),
        ]
    return docs


def prf(pred: set, truth: set) -> tuple[float, float, float]:
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(truth) if truth else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def best(scores: dict, truth: set, thresholds: np.ndarray) -> tuple[float, float, float, float]:
    rows = [(t, *prf({k for k, v in scores.items() if v >= t}, truth)) for t in thresholds]
    return max(rows, key=lambda r: (r[3], r[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=24)
    args = parser.parse_args()
    if not XQUAD.exists():
        raise SystemExit(f"needs {XQUAD}")
    from datasketch import MinHash

    from index.build import prepare
    from index.records import Article
    from index.settings import DEFAULT_MODEL
    from index.st_embedder import SentenceTransformerEmbedder

    docs = corpus(args.articles)
    # A half is an excerpt of its own article's copies: that pair has no clear answer, so
    # halves are judged against each other and against every other story only.
    pairs = [
        (a, b)
        for a, b in itertools.combinations(range(len(docs)), 2)
        if docs[a].story[1:].rstrip("ab") != docs[b].story[1:].rstrip("ab")
        or docs[a].story[0] == docs[b].story[0]
    ]
    truth = {(a, b) for a, b in pairs if docs[a].story == docs[b].story}
    sh = [shingles(d.text) for d in docs]
    mh = []
    for s in sh:
        m = MinHash(num_perm=128, seed=1)
        for h in s:
            m.update(h.to_bytes(4, "little"))
        mh.append(m)

    embedder = SentenceTransformerEmbedder(DEFAULT_MODEL)
    chunked = [
        prepare(Article(id=str(i), title=d.title, text=d.text), embedder, 200, 40)[1]
        for i, d in enumerate(docs)
    ]
    flat = [t for texts in chunked for t in texts]
    vectors = embedder.embed_batch(flat)
    owner = np.repeat(np.arange(len(docs)), [len(t) for t in chunked])
    firsts = np.array([np.flatnonzero(owner == i)[0] for i in range(len(docs))])
    means = np.stack([vectors[owner == i].mean(axis=0) for i in range(len(docs))])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    # Pipeline: neighbours of each doc's first chunk, then containment.
    first_cos = vectors[firsts] @ vectors.T

    def candidates(floor: float) -> set[tuple[int, int]]:
        return {
            (a, b)
            for a, b in pairs
            if max(first_cos[a][owner == b].max(), first_cos[b][owner == a].max()) >= floor
        }

    methods = {
        "shingle containment": (
            {p: containment(sh[p[0]], sh[p[1]]) for p in pairs},
            np.arange(0.1, 1.0, 0.05),
        ),
        "shingle Jaccard": (
            {p: len(sh[p[0]] & sh[p[1]]) / len(sh[p[0]] | sh[p[1]]) for p in pairs},
            np.arange(0.1, 1.0, 0.05),
        ),
        "MinHash Jaccard (128 perm)": (
            {p: mh[p[0]].jaccard(mh[p[1]]) for p in pairs},
            np.arange(0.1, 1.0, 0.05),
        ),
        "embedding cosine (mean)": (
            {p: float(means[p[0]] @ means[p[1]]) for p in pairs},
            np.arange(0.80, 1.0, 0.005),
        ),
    }
    print(
        f"{len(docs)} documents, {len(pairs)} pairs, {len(truth)} near-duplicate pairs, "
        f"{len(docs) // 7} same-topic hard-negative pairs\n"
    )
    print(f"{'method':<34} {'threshold':>9} {'precision':>9} {'recall':>7} {'F1':>6}")
    for name, (scores, grid) in methods.items():
        t, p, r, f = best(scores, truth, grid)
        print(f"{name:<34} {t:>9.3f} {p:>9.3f} {r:>7.3f} {f:>6.3f}")
    print(
        f"\ningest pipeline: first-chunk cosine >= c gives candidates, containment >= t "
        f"decides (in use: c={CANDIDATE_COSINE}, t={SAME_STORY})"
    )
    print(f"{'c':>5} {'t':>5} {'candidates':>10} {'precision':>9} {'recall':>7} {'F1':>6}")
    for c in (0.6, 0.7, 0.8):
        cands = candidates(c)
        for t in (0.5, 0.6, 0.75):
            p, r, f = prf({q for q in cands if containment(sh[q[0]], sh[q[1]]) >= t}, truth)
            print(f"{c:>5.2f} {t:>5.2f} {len(cands):>10} {p:>9.3f} {r:>7.3f} {f:>6.3f}")


if __name__ == "__main__":
    main()
