"""The values of a question's trip: Question -> [Hit] -> [Quote] -> Answer."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

from index.errors import QAError
from index.records import StoredChunk
from qa.filters import Filters

MAX_QUESTION_CHARS = 1000  # longer questions are cut here; the model reads ~256 word-pieces
_SPACE = re.compile(r"\s+")


class EmptyQuestion(QAError):
    """The question has no words in it."""


@dataclass(frozen=True)
class Question:
    """A question as retrieval sees it: control characters gone, spaces collapsed, capped."""

    text: str
    k: int = 5
    truncated: bool = False

    @classmethod
    def parse(cls, raw: str, k: int = 5) -> Question:
        cleaned = "".join(
            " " if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") else ch for ch in raw
        )
        text = _SPACE.sub(" ", cleaned).strip()
        if not any(ch.isalnum() for ch in text):
            raise EmptyQuestion(
                "the question is empty; ask something, for example "
                '"Why won\'t South Korea arm Ukraine?"'
            )
        truncated = len(text) > MAX_QUESTION_CHARS
        return cls(text=text[:MAX_QUESTION_CHARS], k=max(1, k), truncated=truncated)


@dataclass(frozen=True)
class Hit:
    """A retrieved passage and how it scored."""

    chunk: StoredChunk
    score: float  # fused rank score, higher is better
    cosine: float  # dense similarity of question and passage


@dataclass(frozen=True)
class Quote:
    """A verbatim sentence: `text == article_text[start:end]`."""

    text: str
    article_id: str
    title: str
    url: str | None
    published: str | None
    chunk_id: int
    start: int
    end: int
    score: float
    # Other articles of the same story (near duplicates), oldest first: "also reported by".
    also_reported_by: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class Citation:
    """Where else a story was published."""

    article_id: str
    title: str
    url: str | None
    published: str | None
    source: str | None


@dataclass(frozen=True)
class Passage:
    """A retrieved passage as shown: answers list passages by `rank`, best first."""

    chunk_id: int
    article_id: str
    title: str
    url: str | None
    published: str | None
    text: str
    score: float  # retrieval's fused score; kept for JSON readers, it is not the order
    rank: int = 0  # 1 for the passage to read first; the number shown beside it
    # What the order follows: the score of the passage's best sentence (the scale of
    # Quote.score), never higher than the passage before; None for passages past those
    # whose sentences were scored (they follow in retrieval order).
    relevance: float | None = None

    @classmethod
    def of(cls, hit: Hit, rank: int = 0, relevance: float | None = None) -> Passage:
        c = hit.chunk
        return cls(
            c.id,
            c.article_id,
            c.title,
            c.url,
            c.published,
            c.text,
            round(hit.score, 6),
            rank,
            None if relevance is None else round(relevance, 6),
        )


@dataclass(frozen=True)
class Answer:
    """What `qa ask --json` prints; the schema is documented in the README."""

    question: str
    abstained: bool
    quotes: tuple[Quote, ...]
    passages: tuple[Passage, ...]
    filters: str = ""  # the date and source filters applied, as shown to the user
    applied: Filters = field(default_factory=Filters)  # the same filters as values (JSON `filters`)
    # The filters a phrase of the question named whose dates held no article: the answer
    # then comes from the whole archive (JSON `widened`; None when that did not happen).
    widened: Filters | None = None

    @property
    def widened_note(self) -> str:
        """'No article is dated this week (since 2023-03-08, until 2023-03-15), so the whole
        archive was searched.' when that happened, else ''."""
        if self.widened is None:
            return ""
        said = f"{self.widened.phrase} ({self.widened.describe()})" if self.widened.phrase else ""
        return (
            f"No article is dated {said or self.widened.describe()}, so the whole archive "
            "was searched."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "abstained": self.abstained,
            "quotes": [asdict(q) for q in self.quotes],
            "passages": [asdict(p) for p in self.passages],
            "filters": self.applied.to_dict(),
            "filters_text": self.filters,
            "widened": self.widened.to_dict() if self.widened else None,
        }
