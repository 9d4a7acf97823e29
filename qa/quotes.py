"""Quote selection: the whole sentences, inside the top passages, that best answer.

Each sentence of the top passages is scored by semantic evidence (the cosine of its vector
and the question's) and lexical evidence (the share of the question's content words it
holds, each word weighted by how rare it is among the candidate sentences), plus a little
for its passage's rank and for holding the kind of thing asked for, less a penalty for
being a question itself. The weights were chosen on xquad.en and a news development set
together (docs/quality.md). The best sentences become quotes; the best score is also what
abstention looks at (qa.abstain), and what passages are ranked by (`ranked_passages`).
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from index.embedder import Embedder
from index.stopwords import STOPWORDS
from index.textnorm import fold, terms, words
from qa import asked_for
from qa.answer import Hit, Passage, Question, Quote

STEM = 5  # words are matched on their first letters: "invented" meets "invention"
SENTENCES_KEPT = 20_000  # sentences whose folded words are kept between questions


Candidate = tuple[Hit, int, int, int, str]  # (hit, its rank, start, end, sentence text)


@dataclass(frozen=True)
class QuoteSettings:
    passages: int = 15  # top passages whose sentences compete (and are ordered by them)
    max_quotes: int = 3
    lexical_weight: float = 0.8  # times the rarity-weighted share of question words held
    passage_weight: float = 0.1  # times 1/(1 + the passage's rank)
    keep_ratio: float = 0.8  # later quotes must score at least this share of the best
    type_weight: float = 0.1  # for holding what the question asks for (qa.asked_for)
    # Taken from a sentence that is itself a question: it restates what was asked (a
    # newsletter printing the week's quiz) and answers nothing.
    question_penalty: float = 0.3
    # The recency prior carried to the sentences, as the retrieval's (qa.recency.freshness
    # times this; no effect on undated articles), unless the prior is off or --recent's
    # stronger one applies.
    recency_weight: float = 0.2
    # A sentence next to a quoted one, in the same paragraph, joins its quote when it scores
    # at least this share of it: two sentences that answer together are quoted together.
    join_ratio: float = 0.85
    cache_size: int = 20_000  # sentence vectors kept between questions (0: none)
    # Passages of one article shown among the top k before any article's next (0: any):
    # each article's best, then the rest only when too few articles match. Off: at 1 it
    # cost ans@5 0.019 on xquad.en and 0.04 on a news development set for hit@5 +0.005
    # (docs/quality.md, "News").
    per_article: int = 0


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


@lru_cache(maxsize=SENTENCES_KEPT)
def _facts(text: str) -> tuple[str, frozenset[str]]:
    """(a sentence's folded words as one string: the same for two copies of it, its
    content_terms), folded once and kept: a news bot meets the same sentences often."""
    folded = fold(text)
    held = frozenset(w[:STEM] for w in words(folded) if w not in STOPWORDS)
    return " ".join(folded.split()), held


def is_question(sentence: str) -> bool:
    """Whether the sentence ends in a question mark (Latin or Arabic), quotes aside."""
    return sentence.rstrip(" \"'\u201d\u2019\u00bb)").endswith(("?", "\u061f"))


StoredVectors = Callable[[list[int]], dict[int, np.ndarray]]  # chunk ids -> sentence rows


class SentenceVectors:
    """Sentence vectors: those the index stored at ingest (read in their passage), else
    embedded now from the sentence alone, the most recently used kept for the next question."""

    def __init__(
        self, embedder: Embedder, size: int = 20_000, stored: StoredVectors | None = None
    ) -> None:
        self.embedder = embedder
        self.size = size
        self.stored = stored
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # questions on several threads share the cache

    def of(self, candidates: Sequence[Candidate]) -> np.ndarray:
        """(len(candidates), d) unit vectors, stored ones where the index has them."""
        ids = list(dict.fromkeys(c[0].chunk.id for c in candidates))
        by_chunk = self.stored(ids) if self.stored else {}
        rows: list[np.ndarray | None] = []
        for hit, _, start, end, _ in candidates:
            chunk = hit.chunk
            stored = by_chunk.get(chunk.id)
            if stored is not None and len(stored) == len(chunk.sentences):
                rows.append(stored[chunk.sentences.index((start, end))])
            else:
                rows.append(None)
        missing = [i for i, r in enumerate(rows) if r is None]
        if missing:
            fresh = self([candidates[i][4] for i in missing])
            for i, v in zip(missing, fresh, strict=True):
                rows[i] = v
        return np.stack(rows) if rows else _empty(self.embedder)  # type: ignore[arg-type]

    def __len__(self) -> int:
        """Sentences whose vectors are kept for the next question."""
        return len(self._cache)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), d) unit vectors."""
        with self._lock:
            known = {t: self._cache[t] for t in texts if t in self._cache}
        # Embedded outside the lock: questions on other threads use the cache meanwhile.
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        known.update(zip(missing, self.embedder.embed_batch(missing), strict=True))
        if self.size > 0:
            with self._lock:
                for text in texts:
                    self._cache[text] = known[text]
                    self._cache.move_to_end(text)
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        return np.stack([known[t] for t in texts]) if texts else _empty(self.embedder)


def score_sentences(
    question: Question,
    query: np.ndarray,
    hits: Sequence[Hit],
    vectors: SentenceVectors | Embedder,
    settings: QuoteSettings | None = None,
    gains: Mapping[int, float] | None = None,
) -> list[Sentence]:
    """Every distinct sentence of the top `settings.passages` hits, best first; a sentence's
    score gains what `gains` gives its chunk (qa.recency.gains)."""
    s = settings or QuoteSettings()
    if isinstance(vectors, Embedder):
        vectors = SentenceVectors(vectors, size=0)
    candidates = _candidates(hits[: s.passages])
    if not candidates:
        return []
    cosines = vectors.of(candidates) @ query
    wanted = content_terms(question.text)
    kind = asked_for.expected(question.text)
    asked = asked_for.words_of(question.text)
    held = [_facts(text)[1] for *_, text in candidates]
    # Inverse document frequency among the candidates: a word every sentence holds tells
    # nothing about which one answers; a word none holds (not in the index) counts most.
    n = len(held)
    weight = {w: math.log((n + 1) / (sum(w in h for h in held) + 0.5)) for w in wanted}
    total = sum(weight.values())
    out = []
    for (hit, rank, start, end, text), cos, own in zip(candidates, cosines, held, strict=True):
        coverage = sum(weight[w] for w in wanted & own) / total if total > 0 else 0.0
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
                score=support
                + s.passage_weight / (1 + rank)
                + s.type_weight * asked_for.holds(kind, text, asked)
                - s.question_penalty * is_question(text)
                + (gains.get(hit.chunk.id, 0.0) if gains else 0.0),
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
    at = {(c.hit.chunk.id, c.start): c for c in scored}
    chosen = [_joined(scored[0], at, set(), s.join_ratio)]
    taken = {(c.hit.chunk.id, c.start) for run in chosen for c in run}
    pool = [c for c in scored[1:] if c.score >= s.keep_ratio * scored[0].score]
    while len(chosen) < s.max_quotes:
        pool = [c for c in pool if (c.hit.chunk.id, c.start) not in taken]
        if not pool:
            break
        quoted = {_story(run[0].hit) for run in chosen}
        pick = next((c for c in pool if _story(c.hit) not in quoted), pool[0])
        run = _joined(pick, at, taken, s.join_ratio)
        chosen.append(run)
        taken |= {(c.hit.chunk.id, c.start) for c in run}
    return [quote_of(*run) for run in chosen]


def _joined(
    c: Sentence,
    at: dict[tuple[int, int], Sentence],
    taken: set[tuple[int, int]],
    ratio: float,
) -> list[Sentence]:
    """`c` with the sentence before and the one after it, where each is not `taken` by an
    earlier quote, scores `ratio` of it and stands in the same paragraph (no line break
    between); in text order."""
    chunk = c.hit.chunk
    order = chunk.sentences
    i = order.index((c.start, c.end))
    run = [c]
    for j in (i - 1, i + 1):
        if not 0 <= j < len(order):
            continue
        other = None if (chunk.id, order[j][0]) in taken else at.get((chunk.id, order[j][0]))
        lo, hi = min(c.start, order[j][0]), max(c.end, order[j][1])
        if other is None or other.score < ratio * c.score:
            continue
        if "\n" not in chunk.sentence_text(lo, hi):
            run.append(other)
    return sorted(run, key=lambda x: x.start)


def best_scores(scored: Sequence[Sentence]) -> dict[int, float]:
    """chunk id -> the score of its best scored sentence: what passages are ranked by."""
    best: dict[int, float] = {}
    for c in scored:
        best[c.hit.chunk.id] = max(c.score, best.get(c.hit.chunk.id, c.score))
    return best


def order_passages(
    hits: Sequence[Hit], scored: Sequence[Sentence], per_article: int = 0
) -> list[Hit]:
    """The hits whose sentences were scored, by their best sentence; then the others as fused.

    The passage that holds the best answer sentence is the one to read first. With
    `per_article`, an article's passages past that many follow all the others (they are
    shown only when too few articles match): one article does not fill the list, and the
    passage it keeps is the one whose sentence answers best.
    """
    best = best_scores(scored)
    ranked = sorted((h for h in hits if h.chunk.id in best), key=lambda h: -best[h.chunk.id])
    ranked += [h for h in hits if h.chunk.id not in best]
    if not per_article:
        return ranked
    first: list[Hit] = []
    rest: list[Hit] = []
    taken = Counter[str]()
    for h in ranked:
        taken[h.chunk.article_id] += 1
        (first if taken[h.chunk.article_id] <= per_article else rest).append(h)
    return first + rest


def ranked_passages(
    hits: Sequence[Hit], scored: Sequence[Sentence], k: int, per_article: int = 0
) -> list[Passage]:
    """The top `k` of `order_passages` as shown: each with its rank (1 first) and relevance
    (its best sentence's score, so it never rises down the list; None past those scored)."""
    best = best_scores(scored)
    shown = order_passages(hits, scored, per_article)[:k]
    relevance = [best.get(h.chunk.id) for h in shown]
    for i in range(1, len(relevance)):  # an article's second passage may follow a weaker one
        before, mine = relevance[i - 1], relevance[i]
        if before is None or (mine is not None and mine > before):
            relevance[i] = before
    pairs = zip(shown, relevance, strict=True)
    return [Passage.of(h, rank, r) for rank, (h, r) in enumerate(pairs, 1)]


def _story(hit: Hit) -> object:
    chunk = hit.chunk
    return chunk.story if chunk.story is not None else chunk.article_id


def _candidates(hits: Sequence[Hit]) -> list[Candidate]:
    """(hit, rank, start, end, text) of each sentence, each distinct sentence once."""
    out = []
    seen_spans: set[tuple[str, int]] = set()
    seen_texts: set[str] = set()
    for rank, hit in enumerate(hits):
        chunk = hit.chunk
        for start, end in chunk.sentences:
            text = chunk.sentence_text(start, end)
            key = _facts(text)[0]
            if (chunk.article_id, start) in seen_spans or key in seen_texts:
                continue
            seen_spans.add((chunk.article_id, start))
            seen_texts.add(key)
            out.append((hit, rank, start, end, text))
    return out


def quote_of(*run: Sentence) -> Quote:
    """The Quote of a scored sentence, or of adjacent ones of one chunk (in text order)."""
    chunk = run[0].hit.chunk
    start, end = run[0].start, run[-1].end
    return Quote(
        text=chunk.sentence_text(start, end),
        article_id=chunk.article_id,
        title=chunk.title,
        url=chunk.url,
        published=chunk.published,
        chunk_id=chunk.id,
        start=start,
        end=end,
        score=round(max(c.score for c in run), 6),
    )


def _empty(embedder: Embedder) -> np.ndarray:
    return np.zeros((0, embedder.dimension), dtype=np.float32)
