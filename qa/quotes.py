"""Quote selection: the whole sentences, inside the top passages, that best answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.embedder import Embedder
from index.textnorm import fold, terms
from qa.answer import Hit, Question, Quote

# Words that say nothing about what is asked; lexical evidence counts the others.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "about",
        "as",
        "into",
        "over",
        "after",
        "before",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "done",
        "has",
        "have",
        "had",
        "having",
        "will",
        "would",
        "shall",
        "should",
        "can",
        "could",
        "may",
        "might",
        "must",
        "not",
        "no",
        "nor",
        "so",
        "than",
        "too",
        "very",
        "s",
        "t",
        "just",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "him",
        "his",
        "she",
        "her",
        "they",
        "them",
        "their",
        "wo",
        "won't",
        "don't",
        "doesn't",
        "didn't",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
    ]
)


@dataclass(frozen=True)
class QuoteSettings:
    passages: int = 3  # top passages whose sentences compete
    max_quotes: int = 3
    lexical_weight: float = 0.3  # share of the question's content words found in the sentence
    passage_weight: float = 0.1  # the passage's rank, 1/(1 + rank)
    keep_ratio: float = 0.8  # later quotes must score at least this share of the best


@dataclass(frozen=True)
class _Candidate:
    hit: Hit
    rank: int
    start: int
    end: int
    text: str


def content_terms(text: str) -> set[str]:
    return {t for t in terms(text) if t not in STOPWORDS}


def select_quotes(
    question: Question,
    query: np.ndarray,
    hits: list[Hit],
    embedder: Embedder,
    settings: QuoteSettings | None = None,
) -> list[Quote]:
    """Up to `max_quotes` verbatim sentences, best first, from distinct articles when possible.

    A sentence scores by its cosine to the question, plus lexical and passage-rank evidence.
    The same sentence met twice (overlapping chunks, a republished article) competes once.
    """
    s = settings or QuoteSettings()
    candidates = _candidates(hits[: s.passages])
    if not candidates:
        return []
    semantic = embedder.embed_batch([c.text for c in candidates]) @ query
    wanted = content_terms(question.text)
    scores = []
    for c, cos in zip(candidates, semantic, strict=True):
        lexical = len(wanted & content_terms(c.text)) / len(wanted) if wanted else 0.0
        scores.append(float(cos) + s.lexical_weight * lexical + s.passage_weight / (1 + c.rank))
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    best = scores[order[0]]
    chosen: list[int] = [order[0]]
    rest = [i for i in order[1:] if scores[i] >= s.keep_ratio * best]
    # Prefer sentences from articles not yet quoted, then the best of the rest.
    rest.sort(
        key=lambda i: (
            candidates[i].hit.chunk.article_id
            in {candidates[j].hit.chunk.article_id for j in chosen},
            -scores[i],
        )
    )
    chosen += rest[: s.max_quotes - 1]
    return [_quote(candidates[i], scores[i]) for i in chosen]


def _candidates(hits: list[Hit]) -> list[_Candidate]:
    out: list[_Candidate] = []
    seen_spans: set[tuple[str, int]] = set()
    seen_texts: set[str] = set()
    for rank, hit in enumerate(hits):
        chunk = hit.chunk
        for start, end in chunk.sentences:
            text = chunk.sentence_text(start, end)
            key = " ".join(fold(text).split())
            if (chunk.article_id, start) in seen_spans or key in seen_texts:
                continue
            seen_spans.add((chunk.article_id, start))
            seen_texts.add(key)
            out.append(_Candidate(hit, rank, start, end, text))
    return out


def _quote(c: _Candidate, score: float) -> Quote:
    chunk = c.hit.chunk
    return Quote(
        text=c.text,
        article_id=chunk.article_id,
        title=chunk.title,
        url=chunk.url,
        published=chunk.published,
        chunk_id=chunk.id,
        start=c.start,
        end=c.end,
        score=round(score, 6),
    )
