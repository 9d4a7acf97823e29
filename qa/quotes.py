"""Quote selection: the whole sentences, inside the top passages, that best answer.

Each sentence of the top passages is scored by semantic evidence (the cosine of its vector
and the question's) and lexical evidence (the share of the question's content words it
holds, each word weighted by how rare it is among the candidate sentences), plus a little
for its passage's rank. The best sentences become quotes; the best score is also what
abstention looks at (qa.abstain), and what passages are ordered by (`order_passages`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.embedder import Embedder
from index.textnorm import fold, terms
from qa.answer import Hit, Question, Quote
from qa.stopwords import STOPWORDS

STEM = 5  # words are matched on their first letters: "invented" meets "invention"


@dataclass(frozen=True)
class QuoteSettings:
    passages: int = 3  # top passages whose sentences compete
    max_quotes: int = 3
    lexical_weight: float = 0.8  # times the rarity-weighted share of question words held
    passage_weight: float = 0.1  # times 1/(1 + the passage's rank)
    keep_ratio: float = 0.8  # later quotes must score at least this share of the best
    cache_size: int = 20_000  # sentence vectors kept between questions (0: none)


@dataclass(frozen=True)
class Sentence:
    """A candidate sentence and its evidence; offsets index the article's text."""

    hit: Hit
    rank: int  # of its passage among the hits
    start: int
    end: int
    text: str
    cosine: float
    coverage: float  # rarity-weighted share of the question's content words it holds
    support: float  # cosine + lexical_weight * coverage: how well it answers
    score: float  # support + the passage-rank bonus: the order of quotes


def content_terms(text: str) -> set[str]:
    """The folded words of `text` that say what it is about, cut to their first letters."""
    return {t[:STEM] for t in terms(text) if t not in STOPWORDS}


class SentenceVectors:
    """Sentence vectors from the embedder, the most recently used kept for the next question."""

    def __init__(self, embedder: Embedder, size: int = 20_000) -> None:
        self.embedder = embedder
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), d) unit vectors."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        fresh = dict(zip(missing, self.embedder.embed_batch(missing), strict=True))
        if self.size <= 0:
            return np.stack([fresh[t] for t in texts]) if texts else _empty(self.embedder)
        for text, vector in fresh.items():
            self._cache[text] = vector
        for text in texts:
            self._cache.move_to_end(text)
        out = np.stack([self._cache[t] for t in texts]) if texts else _empty(self.embedder)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return out


def score_sentences(
    question: Question,
    query: np.ndarray,
    hits: Sequence[Hit],
    vectors: SentenceVectors | Embedder,
    settings: QuoteSettings | None = None,
) -> list[Sentence]:
    """Every distinct sentence of the top `settings.passages` hits, best first."""
    s = settings or QuoteSettings()
    if isinstance(vectors, Embedder):
        vectors = SentenceVectors(vectors, size=0)
    candidates = _candidates(hits[: s.passages])
    if not candidates:
        return []
    cosines = vectors([text for *_, text in candidates]) @ query
    wanted = content_terms(question.text)
    held = [content_terms(text) for *_, text in candidates]
    # Inverse document frequency among the candidates: a word every sentence holds tells
    # nothing about which one answers; a word none holds (not in the index) counts most.
    n = len(held)
    weight = {w: math.log((n + 1) / (sum(w in h for h in held) + 0.5)) for w in wanted}
    total = sum(weight.values())
    out = []
    for (hit, rank, start, end, text), cos, words in zip(candidates, cosines, held, strict=True):
        coverage = sum(weight[w] for w in wanted & words) / total if total > 0 else 0.0
        support = float(cos) + s.lexical_weight * coverage
        out.append(
            Sentence(
                hit=hit,
                rank=rank,
                start=start,
                end=end,
                text=text,
                cosine=float(cos),
                coverage=coverage,
                support=support,
                score=support + s.passage_weight / (1 + rank),
            )
        )
    out.sort(key=lambda c: -c.score)
    return out


def pick_quotes(scored: Sequence[Sentence], settings: QuoteSettings | None = None) -> list[Quote]:
    """Up to `max_quotes` of the scored sentences: the best, then others from other stories.

    A later quote must score at least `keep_ratio` of the best; among those, a sentence from
    a story not yet quoted goes before a better one from a story already quoted.
    """
    s = settings or QuoteSettings()
    if not scored:
        return []
    chosen = [scored[0]]
    pool = [c for c in scored[1:] if c.score >= s.keep_ratio * scored[0].score]
    while pool and len(chosen) < s.max_quotes:
        quoted = {_story(c.hit) for c in chosen}
        pick = next((c for c in pool if _story(c.hit) not in quoted), pool[0])
        chosen.append(pick)
        pool.remove(pick)
    return [quote_of(c) for c in chosen]


def select_quotes(
    question: Question,
    query: np.ndarray,
    hits: list[Hit],
    embedder: Embedder | SentenceVectors,
    settings: QuoteSettings | None = None,
) -> list[Quote]:
    """Up to `max_quotes` verbatim sentences, best first, from distinct stories when possible."""
    return pick_quotes(score_sentences(question, query, hits, embedder, settings), settings)


def order_passages(hits: Sequence[Hit], scored: Sequence[Sentence]) -> list[Hit]:
    """The hits whose sentences were scored, by their best sentence; then the others as fused.

    The passage that holds the best answer sentence is the one to read first.
    """
    best: dict[int, float] = {}
    for c in scored:
        best.setdefault(c.hit.chunk.id, c.score)
    ranked = sorted((h for h in hits if h.chunk.id in best), key=lambda h: -best[h.chunk.id])
    return ranked + [h for h in hits if h.chunk.id not in best]


def _story(hit: Hit) -> object:
    chunk = hit.chunk
    return chunk.story if chunk.story is not None else chunk.article_id


def _candidates(hits: Sequence[Hit]) -> list[tuple[Hit, int, int, int, str]]:
    """(hit, rank, start, end, text) of each sentence, each distinct sentence once."""
    out = []
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
            out.append((hit, rank, start, end, text))
    return out


def quote_of(c: Sentence) -> Quote:
    """The Quote of a scored sentence."""
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
        score=round(c.score, 6),
    )


def _empty(embedder: Embedder) -> np.ndarray:
    return np.zeros((0, embedder.dimension), dtype=np.float32)
