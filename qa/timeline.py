"""A timeline: the quotes that answer a topic, one per story, oldest first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from qa.answer import Quote
from qa.filters import Filters
from qa.quotes import Sentence
from qa.render import also_reported, citation, text_width, wrap


@dataclass(frozen=True)
class Timeline:
    topic: str
    filters: str  # as shown to the user
    entries: tuple[Quote, ...]  # oldest first; undated articles last
    applied: Filters = field(default_factory=Filters)  # the same filters as values (JSON `filters`)

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "filters": self.applied.to_dict(),
            "filters_text": self.filters,
            "entries": [
                {"date": (q.published or "")[:10] or None, **asdict(q)} for q in self.entries
            ],
        }


def one_per_story(scored: Sequence[Sentence], min_support: float) -> list[Sentence]:
    """The best sentence of each story among `scored` (best first), if it answers at all."""
    best: dict[object, Sentence] = {}
    for c in scored:
        chunk = c.hit.chunk
        story = chunk.story if chunk.story is not None else chunk.article_id
        if story not in best and c.support >= min_support:
            best[story] = c
    return list(best.values())


def oldest_first(quotes: Sequence[Quote]) -> list[Quote]:
    return sorted(quotes, key=lambda q: (q.published is None, q.published or "", q.article_id))


def to_text(t: Timeline, *, width: int | None = None) -> str:
    """Each entry begins with its ISO date (YYYY-MM-DD), so the lines read as a timeline;
    wrapped to `width` (the terminal's by default, qa.render.text_width)."""
    width = width or text_width()
    indent = " " * 12
    lines = [wrap(f"Timeline: {t.topic}", width, "", "")]
    if t.filters:
        lines.append(wrap(f"(searched only {t.filters})", width, "", ""))
    lines.append("")
    if not t.entries:
        lines.append("Nothing in the index answers this topic.")
    for q in t.entries:
        day = (q.published or "")[:10] or "undated   "
        lines.append(wrap(f"\u201c{q.text}\u201d", width, f"{day}  ", indent))
        cited = citation(q.title, None, q.url, q.article_id)
        lines.append(wrap(f"\u2014 {cited}", width, indent, indent))
        if q.also_reported_by:
            lines.append(wrap(also_reported(q.also_reported_by), width, indent, indent))
    return "\n".join(lines)


def to_json(t: Timeline) -> str:
    return json.dumps(t.to_dict(), ensure_ascii=False)
