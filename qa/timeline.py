"""A timeline: the quotes that answer a topic, one per story, oldest first."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from qa.answer import Quote
from qa.quotes import Sentence
from qa.render import citation


@dataclass(frozen=True)
class Timeline:
    topic: str
    filters: str
    entries: tuple[Quote, ...]  # oldest first; undated articles last

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "filters": self.filters,
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


def to_text(t: Timeline) -> str:
    """Each entry begins with its ISO date (YYYY-MM-DD), so the lines read as a timeline."""
    lines = [f"Timeline: {t.topic}"]
    if t.filters:
        lines.append(f"(searched only {t.filters})")
    lines.append("")
    if not t.entries:
        lines.append("Nothing in the index answers this topic.")
    for q in t.entries:
        day = (q.published or "")[:10] or "undated   "
        body = textwrap.fill(
            f"\u201c{q.text}\u201d", width=88, initial_indent=f"{day}  ", subsequent_indent=" " * 12
        )
        lines.append(f"{body}\n{' ' * 12}\u2014 {citation(q.title, None, q.url, q.article_id)}")
        if q.also_reported_by:
            lines.append(f"{' ' * 12}also reported by {len(q.also_reported_by)} more")
    return "\n".join(lines)


def to_json(t: Timeline) -> str:
    return json.dumps(t.to_dict(), ensure_ascii=False)
