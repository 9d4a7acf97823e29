"""Near-duplicate articles: the same story republished with a new headline, a trailing
paragraph, reordered sentences. Found at ingest, stored as a shared story id.

Two steps, chosen by measurement (benchmarks/neardup.py, docs/benchmarks.md):
candidates are the stored articles whose chunks lie close to the new article's first chunk in
the vector index (cosine >= CANDIDATE_COSINE; no extra index to keep), and a candidate is the
same story when the word shingles of the shorter text are mostly in the longer one
(containment >= SAME_STORY). Containment, unlike Jaccard, stays high when one copy adds a
paragraph; shingles, unlike embeddings, tell a copy from another report of the same event.
"""

from __future__ import annotations

from functools import lru_cache

from index.textnorm import terms

SHINGLE = 4  # words per shingle
CANDIDATE_COSINE = 0.7
SAME_STORY = 0.75
CANDIDATES = 8  # nearest chunks looked at per new article
# Texts whose shingles are kept: at ingest the same stored articles come up as candidates of
# article after article (6 shingle sets made per article ingested on benchmarks.ingest's
# corpus, 1.8 of its 3 s beyond embedding). About 50 kB a news article, so at most ~25 MB.
SHINGLE_CACHE = 512


@lru_cache(maxsize=SHINGLE_CACHE)
def shingles(text: str) -> frozenset[int]:
    """Hashes of the folded text's overlapping word 4-grams (kept for recent texts).

    Python's own hash of the word tuple: it differs from process to process, which does not
    matter for sets compared within one and never stored (crc32 of the joined words took
    1.5x as long).
    """
    words = terms(text)
    if len(words) < SHINGLE:
        return frozenset({hash(tuple(words))}) if words else frozenset()
    # The shifted copies are shorter than `words`: zip stops with the last whole shingle.
    return frozenset(map(hash, zip(*(words[i:] for i in range(SHINGLE)), strict=False)))


def containment(a: frozenset[int], b: frozenset[int]) -> float:
    """Share of the smaller set found in the larger: 1.0 when one text includes the other.

    Symmetric, for telling whether two articles are one story. Not for whether a text adds
    anything to another: a short text inside a long one scores 1.0 both ways (`covered`)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def covered(a: frozenset[int], b: frozenset[int]) -> float:
    """Share of `a` found in `b`: 1.0 when `b` holds all of `a`'s text, however much more
    it holds; low when `a` holds much that `b` lacks, however much of `b` is in `a`."""
    if not a:
        return 1.0  # nothing to add
    return len(a & b) / len(a)


def same_story(a: str, b: str) -> bool:
    return containment(shingles(a), shingles(b)) >= SAME_STORY
