"""Articles into sentence-aligned, overlapping chunks measured in the model's word-pieces."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from index.records import Chunk

# texts -> for each text, the (start, end) character span of every word-piece
TokenSpans = Callable[[Sequence[str]], list[list[tuple[int, int]]]]


def chunk_text(
    text: str,
    sentences: Sequence[tuple[int, int]],
    token_spans: TokenSpans,
    *,
    budget: int,
    overlap: int,
) -> list[Chunk]:
    """Group whole sentences into chunks of at most `budget` word-pieces.

    Paragraphs (separated by a line end) are packed whole while they fit: a paragraph that
    does not fit in what is left of a chunk starts the next chunk, so a chunk does not
    straddle the end of one topic and the start of another (measured in docs/quality.md). A
    paragraph longer than a chunk is split between sentences, each piece after the first
    repeating the trailing sentences of the one before, up to `overlap` word-pieces, where
    they leave room for something new.
    A sentence longer than `budget` is cut at word-piece boundaries (at whitespace where one
    is near), the only case where a chunk edge is not a sentence edge.
    """
    units = _units(text, sentences, token_spans, budget)
    opens = [i == 0 or "\n" in text[units[i - 1][1] : units[i][0]] for i in range(len(units))]
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, used = i, 0
        while j < len(units) and (j == i or used + units[j][2] <= budget):
            if j > i and opens[j] and used + _paragraph_tokens(units, opens, j) > budget:
                break  # the next paragraph does not fit what is left: it starts the next
            used += units[j][2]
            j += 1
        part = units[i:j]
        chunks.append(
            Chunk(
                seq=len(chunks),
                start=part[0][0],
                end=part[-1][1],
                sentences=tuple((s, e) for s, e, _ in part),
                tokens=used,
            )
        )
        if j >= len(units):
            break
        # Step back over trailing sentences of the same paragraph that fit the overlap,
        # never to where we began, and only as far as leaves room for the next sentence (a
        # chunk of repeated sentences alone would add nothing); a chunk that ended a
        # paragraph is not repeated.
        back, carried = j, 0
        while (
            back - 1 > i
            and not opens[back]
            and carried + units[back - 1][2] <= overlap
            and carried + units[back - 1][2] + units[j][2] <= budget
        ):
            back -= 1
            carried += units[back][2]
        i = back
    return chunks


def _paragraph_tokens(units: list[tuple[int, int, int]], opens: list[bool], j: int) -> int:
    """Word-pieces of the paragraph that starts at unit `j`."""
    total = units[j][2]
    for k in range(j + 1, len(units)):
        if opens[k]:
            break
        total += units[k][2]
    return total


def _units(
    text: str,
    sentences: Sequence[tuple[int, int]],
    token_spans: TokenSpans,
    budget: int,
) -> list[tuple[int, int, int]]:
    """(start, end, tokens) for each sentence, over-long sentences split into pieces."""
    spans = token_spans([text[s:e] for s, e in sentences])
    units: list[tuple[int, int, int]] = []
    for (start, end), pieces in zip(sentences, spans, strict=True):
        if len(pieces) <= budget:
            units.append((start, end, max(len(pieces), 1)))
            continue
        k = 0
        while k < len(pieces):
            stop = min(k + budget, len(pieces))
            if stop < len(pieces):
                # Prefer to cut where a space separates two word-pieces.
                for cut in range(stop, k + budget // 2, -1):
                    if pieces[cut][0] > pieces[cut - 1][1]:
                        stop = cut
                        break
            s = start + pieces[k][0]
            e = start + pieces[stop - 1][1] if stop < len(pieces) else end
            units.append((s, e, stop - k))
            k = stop
    return units
