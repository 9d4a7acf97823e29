"""Answers as plain text for a terminal and as JSON for machines.

Text is wrapped to the terminal's width (`text_width`); the words a person reads in more
than one place ("Also reported by 2 others") are made here, so `ask`, `timeline` and the
bot say them the same way (a count and its noun: index.wording.plural).
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from collections.abc import Sequence
from typing import TextIO

from index.wording import plural
from qa.answer import Answer, Citation, Passage, Quote

DEFAULT_WIDTH = 88  # piped output, and the widest a terminal's text is wrapped to
MIN_WIDTH = 40  # a narrower terminal still gets lines this long: shorter ones say too little
ALSO_SHOWN = 3  # other outlets named under a quote; the rest are counted


def text_width(stream: TextIO | None = None) -> int:
    """The width to wrap at: the terminal's, between MIN_WIDTH and DEFAULT_WIDTH, when
    `stream` (standard output by default) is one; DEFAULT_WIDTH otherwise, so piped output
    does not depend on the window it was made in."""
    stream = stream or sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # a closed or stand-in stream
        tty = False
    if not tty:
        return DEFAULT_WIDTH
    columns = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return max(MIN_WIDTH, min(DEFAULT_WIDTH, columns))


def also_reported_head(n: int) -> str:
    """'Also reported by 2 others: ', before the other articles of a quote's story."""
    return f"Also reported by {plural(n, 'other')}: "


def also_reported_rest(n: int, shown: int = ALSO_SHOWN) -> str:
    """' and 2 more' after the first `shown` of `n` others; '' when all are shown."""
    return f" and {n - shown} more" if n > shown else ""


def also_reported(others: Sequence[Citation], shown: int = ALSO_SHOWN) -> str:
    """'Also reported by 2 others: Title, 2023-01-31, https://...; Title, ...' ('' for none)."""
    if not others:
        return ""
    names = "; ".join(citation(c.title, c.published, c.url, c.article_id) for c in others[:shown])
    return also_reported_head(len(others)) + names + also_reported_rest(len(others), shown)


def citation(title: str, published: str | None, url: str | None, article_id: str) -> str:
    """'Title, 2023-01-30, https://...' (the id stands in for a missing URL)."""
    parts = [title]
    if published:
        parts.append(published[:10])
    parts.append(url or article_id)
    return ", ".join(parts)


def wrap(text: str, width: int, first: str, rest: str) -> str:
    """`text` filled to `width` after the indents; URLs and ids are never broken."""
    return textwrap.fill(
        " ".join(text.split()),
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def quote_lines(q: Quote, width: int, first: str, indent: str) -> str:
    """A quote, its citation and its other outlets, each wrapped under `indent`."""
    cited = citation(q.title, q.published, q.url, q.article_id)
    lines = [
        wrap(f"\u201c{q.text}\u201d", width, first, indent),
        wrap(f"\u2014 {cited}", width, indent, indent),
    ]
    if q.also_reported_by:
        lines.append(wrap(also_reported(q.also_reported_by), width, indent, indent))
    return "\n".join(lines)


def _passage_block(n: int, p: Passage, width: int) -> str:
    head = wrap(f"[{n}] {citation(p.title, p.published, p.url, p.article_id)}", width, "", "    ")
    return f"{head}\n{wrap(p.text, width, '    ', '    ')}"


def to_text(answer: Answer, *, passages: bool = True, width: int | None = None) -> str:
    """The answer for a person: the quotes, then the passages by rank ([1] is the best)."""
    width = width or text_width()
    lines = [f"Q: {answer.question}", ""]
    if answer.filters:
        lines[1:1] = [wrap(f"(searched only {answer.filters})", width, "", "")]
    if answer.widened_note:
        lines[1:1] = [wrap(f"({answer.widened_note})", width, "", "")]
    if answer.abstained:
        lines.append("Nothing in the index answers this question.")
        if answer.passages and passages:
            lines += ["", "Closest passages (not an answer):"]
    else:
        lines += [quote_lines(q, width, f"{i}. ", "   ") for i, q in enumerate(answer.quotes, 1)]
        if passages and answer.passages:
            lines += ["", "Passages:"]
    if passages:
        lines += [_passage_block(i, p, width) for i, p in enumerate(answer.passages, 1)]
    return "\n".join(lines)


def to_json(answer: Answer) -> str:
    """One line of JSON in the documented schema."""
    return json.dumps(answer.to_dict(), ensure_ascii=False)
