"""Answers as plain text for a terminal and as JSON for machines."""

from __future__ import annotations

import json
import textwrap

from qa.answer import Answer, Passage, Quote


def citation(title: str, published: str | None, url: str | None, article_id: str) -> str:
    """'Title, 2023-01-30, https://...' (the id stands in for a missing URL)."""
    parts = [title]
    if published:
        parts.append(published[:10])
    parts.append(url or article_id)
    return ", ".join(parts)


def _quote_block(n: int, q: Quote) -> str:
    body = textwrap.fill(
        f"\u201c{q.text}\u201d", width=88, initial_indent=f"{n}. ", subsequent_indent="   "
    )
    out = f"{body}\n   \u2014 {citation(q.title, q.published, q.url, q.article_id)}"
    if q.also_reported_by:
        n = len(q.also_reported_by)
        out += f"\n   also reported by {n} other{'s' if n > 1 else ''}: " + "; ".join(
            citation(c.title, c.published, c.url, c.article_id) for c in q.also_reported_by
        )
    return out


def _passage_block(n: int, p: Passage) -> str:
    head = f"[{n}] {citation(p.title, p.published, p.url, p.article_id)} (score {p.score:.4f})"
    body = textwrap.fill(
        " ".join(p.text.split()), width=88, initial_indent="    ", subsequent_indent="    "
    )
    return f"{head}\n{body}"


def to_text(answer: Answer, *, passages: bool = True) -> str:
    lines = [f"Q: {answer.question}", ""]
    if answer.filters:
        lines[1:1] = [f"(searched only {answer.filters})"]
    if answer.abstained:
        lines.append("Nothing in the index answers this question.")
        if answer.passages and passages:
            lines += ["", "Closest passages (not an answer):"]
    else:
        lines += [_quote_block(i, q) for i, q in enumerate(answer.quotes, 1)]
        if passages and answer.passages:
            lines += ["", "Passages:"]
    if passages:
        lines += [_passage_block(i, p) for i, p in enumerate(answer.passages, 1)]
    return "\n".join(lines)


def to_json(answer: Answer) -> str:
    """One line of JSON in the documented schema."""
    return json.dumps(answer.to_dict(), ensure_ascii=False)
