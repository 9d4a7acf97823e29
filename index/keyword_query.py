"""The FTS5 query for any user text: its content words, each quoted, the rarest ones required.

BM25 in FTS5 scores every row that matches, a microsecond or more a row, so a question costs
about the total length of the posting lists it names: stopwords (the longest lists, adding
almost nothing to a ranking) are left out. Of the rest, the rarest words are required, while
their document frequencies add up to at most a budget; the question's common words only add
to the score of the chunks the rare ones found. So a question costs about the same at a
million chunks as at a thousand, and a common word still counts where the rare words are.
Below the budget (every index of a few thousand chunks) the query is every content word.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from index.stopwords import STOPWORDS
from index.textnorm import terms

# Postings (matching rows) the required words of a query may have: a few ms of BM25 at any
# index size. At the sizes the eval measures (hundreds to thousands of chunks) it never binds.
POSTINGS_BUDGET = 6_000


def query_terms(text: str) -> list[str]:
    """The distinct folded words of `text` that are not stopwords, in order; all of its
    words when it has nothing else ("what is it"), so such a question still searches."""
    words = list(dict.fromkeys(terms(text)))
    content = [w for w in words if w not in STOPWORDS]
    return content or words


def split(words: list[str], df: Callable[[str], int], budget: int) -> tuple[list[str], list[str]]:
    """(rare, common): the rarest `words` whose frequencies `df` add up to at most `budget`,
    and always the rarest one; then the others. Words in no document are dropped.

    `df` may stop counting past `budget`: words at the cap tie, and the longer goes first,
    longer words being the rarer as a rule.
    """
    counts = {w: df(w) for w in words}
    rare: list[str] = []
    common: list[str] = []
    total = 0
    for word in sorted(words, key=lambda w: (counts[w], -len(w))):  # stable: ties keep order
        if counts[word] == 0:
            continue
        if rare and (common or total + counts[word] > budget):
            common.append(word)
        else:
            rare.append(word)
            total += counts[word]
    return rare, common


def match_expression(rare: Sequence[str], common: Sequence[str] = ()) -> str:
    """The FTS5 query: `"r1" OR "r2"`, or with common words `("r1" OR "r2") AND ("r1" OR "r2"
    OR "c1")`, which matches only chunks holding a rare word and scores every word there
    (the rare ones twice: BM25 sums over the phrases of the query).

    Each word is a quoted FTS5 string (inner quotes doubled), so operators, column filters
    and punctuation in user text are searched as words, never parsed.
    """
    required = " OR ".join(_quoted(w) for w in rare)
    if not common:
        return required
    return f"({required}) AND ({required} OR {' OR '.join(_quoted(w) for w in common)})"


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'
