"""Real prose for the benchmarks, read at run time from ../shared/eval (never copied here).

XQuAD's English Wikipedia articles and PersianQA's Persian paragraphs, plus the bundled demo
article. Where ../shared is absent only the demo article is there, repeated with variation.
A corpus of N chunks repeats the articles with variation (paragraphs reordered, one sentence
of each dropped) so that no two articles share a text and every copy is chunked afresh.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, SHARED
from index.embedder import Embedder
from index.records import Article

XQUAD = SHARED / "eval" / "xquad" / "xquad.en.json"
PERSIANQA = SHARED / "eval" / "persianqa" / "pqa_test.json"
DEMO = ROOT / "examples" / "demo"

FALLBACK_QUESTIONS = (
    "Why won't South Korea arm Ukraine?",
    "Who did Stoltenberg meet in Seoul?",
    "What did NATO say about China?",
    "What do South Korean laws say about weapons?",
)


def _squad(path: Path, lang: str) -> list[Article]:
    """One article per SQuAD title: its paragraphs in order, one a line."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = []
    for n, entry in enumerate(data):
        title = entry["title"].replace("_", " ")
        text = "\n".join(p["context"].strip() for p in entry["paragraphs"])
        out.append(Article(id=f"{path.stem}:{n}", title=title, text=text, lang=lang))
    return out


def real_articles() -> list[Article]:
    """Every real article on this machine: XQuAD (en), PersianQA (fa), the demo (en)."""
    from index.sources import read_paths

    articles = [a for a in read_paths([DEMO], max_bytes=10**7) if isinstance(a, Article)]
    if XQUAD.exists():
        articles += _squad(XQUAD, "en")
    if PERSIANQA.exists():
        articles += _squad(PERSIANQA, "fa")
    return articles


def questions(limit: int | None = None, seed: int = 0, lang: str = "en") -> list[str]:
    """Real questions, shuffled with `seed`: XQuAD's English ones, or with `lang="fa"`
    PersianQA's; a few demo ones as fallback (none in Persian)."""
    path = PERSIANQA if lang == "fa" else XQUAD
    if not path.exists():
        return [] if lang == "fa" else list(FALLBACK_QUESTIONS)[:limit]
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    qs = [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]]
    random.Random(seed).shuffle(qs)
    return qs[:limit]


def variant(article: Article, copy: int) -> Article:
    """Copy 0 is the article; later copies reorder its paragraphs and drop a sentence of each."""
    if copy == 0:
        return article
    from index.sentences import split_sentences

    rng = random.Random(f"{article.id}/{copy}")
    paragraphs = [p for p in article.text.split("\n") if p.strip()]
    rng.shuffle(paragraphs)
    out = []
    for p in paragraphs:
        spans = split_sentences(p, article.lang)
        if len(spans) >= 3:
            spans.pop(rng.randrange(len(spans)))
        out.append(" ".join(p[s:e] for s, e in spans) or p)
    return Article(
        id=f"{article.id}/{copy}",
        title=f"{article.title} ({copy})",
        text="\n".join(out),
        published=f"20{10 + copy % 15:02d}-0{1 + copy % 9}-1{copy % 10}",
        lang=article.lang,
    )


def corpus(
    min_chunks: int, embedder: Embedder, lang: str | None = None
) -> Iterator[tuple[Article, list[str]]]:
    """Articles (of one language if `lang` is given) and the texts `qa ingest` embeds for
    them, whole copies until `min_chunks`."""
    from index.build import prepare
    from index.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_TOKENS

    base = [a for a in real_articles() if lang in (None, a.lang)]
    if not base:
        raise SystemExit(f"no real articles in {lang!r} on this machine (is ../shared there?)")
    total, copy, seen = 0, 0, set()
    while total < min_chunks:
        for article in base:
            a = variant(article, copy)
            if a.text_hash in seen:
                continue
            seen.add(a.text_hash)
            _, texts = prepare(a, embedder, DEFAULT_CHUNK_TOKENS, DEFAULT_CHUNK_OVERLAP)
            total += len(texts)
            yield a, texts
        copy += 1


@dataclass(frozen=True)
class RealChunks:
    """Real chunks embedded by the real model: the anchors of synthetic indexes."""

    titles: list[str]
    bodies: list[str]  # the chunk's text (what the store keeps; the title is prefixed to embed)
    sentences: list[list[tuple[int, int]]]  # sentence spans relative to the body
    vectors: np.ndarray  # (n, d) float32 unit rows
    # Per chunk, (its sentences, d) rows read in context, as ingest stores them; may be empty.
    sentence_vectors: list[np.ndarray] = field(default_factory=list)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path.with_suffix(".npy"), self.vectors)
        if self.sentence_vectors:
            np.save(path.with_suffix(".sentences.npy"), np.concatenate(self.sentence_vectors))
        data = {"titles": self.titles, "bodies": self.bodies, "sentences": self.sentences}
        path.with_suffix(".json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, path: Path) -> RealChunks:
        data = json.loads(path.with_suffix(".json").read_text("utf-8"))
        sentences = [[(s, e) for s, e in spans] for spans in data["sentences"]]
        vectors = np.load(path.with_suffix(".npy"))
        rows: list[np.ndarray] = []
        if path.with_suffix(".sentences.npy").exists():
            flat = np.load(path.with_suffix(".sentences.npy"))
            ends = np.cumsum([len(spans) for spans in sentences])
            rows = np.split(flat, ends[:-1])
        return cls(data["titles"], data["bodies"], sentences, vectors, rows)


def real_chunks(work: Path, min_chunks: int, embedder: Embedder | None = None) -> RealChunks:
    """The corpus's chunks with their float32 vectors, from the cache in `work` or embedded."""
    path = work / f"real-chunks-v2-{min_chunks}"  # v2: with sentence vectors
    if path.with_suffix(".npy").exists():
        return RealChunks.load(path)
    if embedder is None:
        from index.settings import DEFAULT_MODEL
        from index.st_embedder import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder(DEFAULT_MODEL, dtype="float32")
    print(f"embedding {min_chunks}+ real chunks once (cached in {path}) ...", flush=True)
    chunks = chunks_of(list(corpus(min_chunks, embedder)), embedder)
    texts = [f"{t}\n{b}" for t, b in zip(chunks.titles, chunks.bodies, strict=True)]
    spans = [
        [(s + len(t) + 1, e + len(t) + 1) for s, e in sp]
        for t, sp in zip(chunks.titles, chunks.sentences, strict=True)
    ]
    vectors, rows = embedder.embed_with_sentences(texts, spans)
    chunks = RealChunks(
        chunks.titles,
        chunks.bodies,
        chunks.sentences,
        vectors,
        [
            r if r is not None else embedder.embed_batch([b[x:y] for x, y in sp])
            for r, b, sp in zip(rows, chunks.bodies, chunks.sentences, strict=True)
        ],
    )
    chunks.save(path)
    return chunks


def chunks_of(
    items: list[tuple[Article, list[str]]], embedder: Embedder, vectors: np.ndarray | None = None
) -> RealChunks:
    """The corpus's chunks as bodies with sentence spans; `vectors` in the same order."""
    from index.build import prepare
    from index.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_TOKENS

    titles, bodies, sentences = [], [], []
    for article, _ in items:
        chunks, _ = prepare(article, embedder, DEFAULT_CHUNK_TOKENS, DEFAULT_CHUNK_OVERLAP)
        for c in chunks:
            titles.append(article.title)
            bodies.append(article.text[c.start : c.end])
            sentences.append([(s - c.start, e - c.start) for s, e in c.sentences])
    if vectors is None:
        vectors = np.zeros((len(bodies), embedder.dimension), dtype=np.float32)
    return RealChunks(titles, bodies, sentences, vectors)
