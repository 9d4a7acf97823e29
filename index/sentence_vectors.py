"""Sentence vectors read in context: each sentence's vector pooled from the word-piece outputs
of its chunk's own pass through the model (`read_in_context`, `pool_spans`), and the fallback
for a script the model reads letter by letter, whose sentences are embedded alone.

Both embedders' `embed_with_sentences` are built on `read_in_context`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from index.embedder import Embedder, normalise

# Word-pieces per word above which the model does not know the script: English runs
# 1.2-1.4, Persian through the English MiniLM 3.6-4.2 (letter by letter). There a
# sentence pooled in its passage is blurred by the whole passage's letters (PersianQA
# hit@1 0.21 against 0.40 for sentences embedded alone), so those are embedded alone.
FOREIGN_PIECES_PER_WORD = 2.5
_WORDS = re.compile(r"\w+")


def pool_spans(
    tokens: np.ndarray, offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]
) -> np.ndarray:
    """(len(spans), d) unit rows: the mean of the token vectors (n, d) whose character
    offsets lie inside each span; a zero row for a span with no token (past the window)."""
    if not len(offsets) or not len(spans):
        return np.zeros((len(spans), tokens.shape[1]), dtype=np.float32)
    pieces = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)  # (n, 2) start, end
    bounds = np.asarray(spans, dtype=np.int64).reshape(-1, 2)  # (spans, 2)
    inside = (  # (spans, n): which word-pieces lie in which span
        (pieces[None, :, 0] >= bounds[:, None, 0])
        & (pieces[None, :, 1] <= bounds[:, None, 1])
        & (pieces[None, :, 1] > pieces[None, :, 0])
    )
    counts = inside.sum(axis=1, keepdims=True)
    weights = inside.astype(np.float32)
    out = (weights @ tokens.astype(np.float32, copy=False)) / np.maximum(counts, 1)
    return normalise(out)


def reads_letter_by_letter(text: str, offsets: Sequence[tuple[int, int]]) -> bool:
    """True where the model cuts `text` (its word-pieces' `offsets`, all of them or those
    up to its window) into more than FOREIGN_PIECES_PER_WORD pieces a word of the text they
    cover: a script it does not know."""
    if not offsets:
        return False
    words = _WORDS.findall(text, offsets[0][0], offsets[-1][1])
    return len(offsets) > FOREIGN_PIECES_PER_WORD * len(words)


def read_in_context(
    embedder: Embedder,
    texts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int]]],
    read: Callable[[list[int]], Iterable[tuple[int, np.ndarray, np.ndarray]]],
    *,
    offsets: Sequence[Sequence[tuple[int, int]]] | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """What `Embedder.embed_with_sentences` returns, from one forward pass per text.

    `read(indexes)` runs the texts at those indexes through the model and yields, once for
    each, (its index, its pooled vector, the output vectors of the word-pieces the model
    read, special tokens left out); a sentence's vector is the mean of its word-pieces'
    (`pool_spans`). Sentences past the model's window are embedded on their own instead.
    `offsets` are the texts' word-pieces as the pass reads them (from `token_spans` if not
    given; an embedder that tokenises anyway passes its own, which may stop at the window).

    A text in a script the model reads letter by letter (`reads_letter_by_letter`: Persian
    in an English model) is not read whole. Pooled in its passage, such a sentence blurs
    into the passage's letters, so each sentence is embedded alone, and so is what lies
    outside the sentences (the title a chunk's text starts with); the text's vector is the
    mean of those pieces' vectors. On PersianQA that retrieves as well as a whole pass did
    beside them (docs/quality.md), and each letter goes through the model once, not twice.
    """
    from tqdm import tqdm

    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    sentences: list[np.ndarray | None] = [None] * len(texts)
    if offsets is None:
        offsets = embedder.token_spans(texts)
    foreign = {
        i: sentence_pieces(t, spans[i])
        for i, t in enumerate(texts)
        if reads_letter_by_letter(t, offsets[i])
    }
    with tqdm(total=len(texts), unit="chunk", disable=not progress) as bar:
        for i, vector, tokens in read([i for i in range(len(texts)) if i not in foreign]):
            vectors[i] = vector
            sentences[i] = pool_spans(tokens, offsets[i][: len(tokens)], spans[i])
            bar.update()
        # Embedded alone, in one call: the sentences the pass did not reach, and the pieces
        # of foreign texts; a sentence wherever it stands, the rest (a title, shared by an
        # article's chunks) once per call.
        missing = [(i, j) for i, s in enumerate(sentences) for j in _zero_rows(s)]
        alone = [texts[i][slice(*spans[i][j])] for i, j in missing]
        outside: dict[str, int] = {}  # text outside sentences -> its row in `alone`

        def row(piece: str, shared: bool) -> int:
            if shared and piece in outside:
                return outside[piece]
            alone.append(piece)
            if shared:
                outside[piece] = len(alone) - 1
            return len(alone) - 1

        at = {  # foreign text -> the rows of its pieces in `alone`, sentences first
            i: [row(texts[i][slice(*p)], n >= len(spans[i])) for n, p in enumerate(pieces)]
            for i, pieces in foreign.items()
        }
        embedded = embedder.embed_batch(alone) if alone else np.zeros((0, embedder.dimension))
        for n, (i, j) in enumerate(missing):
            sentences[i][j] = embedded[n]  # type: ignore[index]
        for i, rows in at.items():
            got = embedded[rows]
            sentences[i] = got[: len(spans[i])]
            vectors[i] = got.mean(axis=0)
            bar.update()
    return normalise(vectors), sentences


def sentence_pieces(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The sentence spans, then each stretch of text outside them that is not blank."""
    out, at = list(spans), 0
    for start, end in [*sorted(spans), (len(text), len(text))]:
        gap = text[at:start]
        if gap.strip():
            out.append((at + len(gap) - len(gap.lstrip()), at + len(gap.rstrip())))
        at = max(at, end)
    return out


def _zero_rows(rows: np.ndarray | None) -> list[int]:
    if rows is None:
        return []
    return [int(j) for j in np.flatnonzero(~rows.any(axis=1))]
