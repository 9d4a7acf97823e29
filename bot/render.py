"""Answers as Telegram messages: the best quote in its context, the others, each cited;
timelines, pages of passages, a quote's context, and what /sources says.

Built from `bot.telegram_html` fragments (escaped, measured, packed into messages) and cut to
fit with `bot.clipping`.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from bot.clipping import around, clip, fit, head, tail
from bot.telegram_html import (
    MAX_ENTITIES,
    MESSAGE_LIMIT,
    NUMBER_RESERVE,
    Fragment,
    blockquote,
    bold,
    italic,
    join,
    link,
    pack,
    safe_url,
    text,
    tg_len,
)
from index.wording import plural
from qa.answer import Answer, Passage, Quote
from qa.render import ALSO_SHOWN, also_reported_head, also_reported_rest
from qa.timeline import Timeline

CONTEXT_CHARS = 400  # text shown either side of the best quote
PAGE_PASSAGES = 3  # passages per "More" page, fewer when they are long
MAX_TITLE_CHARS = 200


# --- the pieces of an answer ------------------------------------------------------------


def citation(
    n: int | None, title: str, published: str | None, url: str | None, ident: str
) -> Fragment:
    """'1 · Title, 2023-01-30 · example.com' with the host linked; the id when there is no URL."""
    parts = [italic(text(clip(title.strip() or ident, MAX_TITLE_CHARS)))]
    if published:
        parts.append(text(published[:10]))
    cite = join(parts, ", ")
    href = safe_url(url)
    if href:
        host = urlsplit(href).hostname or href
        cite = cite + text(" \u00b7 ") + link(href, text(host.removeprefix("www.")))
    elif url:
        cite = cite + text(" \u00b7 " + clip(url, 200))
    else:
        cite = cite + text(" \u00b7 " + clip(ident, 200))
    return (text(f"{n} \u00b7 ") if n is not None else Fragment()) + cite


def _quote_citation(n: int, q: Quote) -> Fragment:
    return citation(n, q.title, q.published, q.url, q.article_id)


def _passage_citation(n: int, p: Passage) -> Fragment:
    return citation(n, p.title, p.published, p.url, p.article_id)


def passage_of(answer: Answer, quote: Quote) -> Passage | None:
    return next((p for p in answer.passages if p.chunk_id == quote.chunk_id), None)


def highlighted(
    before: str, sentence: str, after: str, budget: int | None, context: int
) -> Fragment:
    """Context, the answering sentence in bold, context; within `budget` characters of text."""
    if budget is not None:
        sentence = clip(sentence, budget)
        context = min(context, max(0, (budget - len(sentence)) // 2))
    b = tail(before, context) if context else ""
    a = head(after, context) if context else ""
    if b and not b[-1].isspace():
        b += " "
    if a and not a[0].isspace():
        a = " " + a
    return text(b.lstrip()) + bold(text(sentence)) + text(a.rstrip())


def best_quote_block(answer: Answer, q: Quote, limit: int) -> Fragment:
    """The best quote: a blockquote of its passage around it, the sentence in bold; citation."""
    p = passage_of(answer, q)
    before, sentence, after = around(p.text, q.text) if p else ("", q.text, "")

    def build(budget: int | None) -> Fragment:
        body = highlighted(before, sentence, after, budget, CONTEXT_CHARS)
        return blockquote(body) + text("\n") + _quote_citation(1, q)

    return fit(build, limit)


def quote_block(n: int, q: Quote, limit: int) -> Fragment:
    """A further quote: the sentence in a blockquote, then its citation."""

    def build(budget: int | None) -> Fragment:
        body = q.text if budget is None else clip(q.text, budget)
        return blockquote(text(body)) + text("\n") + _quote_citation(n, q)

    return fit(build, limit)


def passage_block(n: int, p: Passage, quotes: Sequence[Quote], limit: int) -> Fragment:
    """A whole passage in a blockquote, a quoted sentence in it in bold; then its citation."""
    q = next((q for q in quotes if q.chunk_id == p.chunk_id), None)
    before, sentence, after = around(p.text.strip(), q.text) if q else (p.text.strip(), "", "")

    def build(budget: int | None) -> Fragment:
        if not sentence:
            body = text(before if budget is None else clip(before, budget))
        else:
            body = highlighted(before, sentence, after, budget, len(p.text))
        return blockquote(body) + text("\n") + _passage_citation(n, p)

    return fit(build, limit)


# --- whole messages ---------------------------------------------------------------------


def answer_messages(
    answer: Answer, *, followup_of: str | None = None, limit: int = MESSAGE_LIMIT
) -> list[Fragment]:
    """The reply to a question: the quotes, best first, each cited; split if over `limit`."""
    room = limit - NUMBER_RESERVE
    blocks: list[Fragment] = []
    if followup_of:
        blocks.append(italic(text("Follow-up to \u201c" + clip(followup_of, 300) + "\u201d")))
    if answer.filters:
        blocks.append(italic(text("Searched only " + clip(answer.filters, 300))))
    if answer.widened_note:
        blocks.append(italic(text(clip(answer.widened_note, 400))))
    if answer.abstained or not answer.quotes:
        blocks.append(nothing_found())
        return pack(blocks, limit)
    first, *rest = answer.quotes
    # The quote is shortened to leave room for its other outlets: a block must fit whole.
    also = also_reported(first)
    blocks.append(best_quote_block(answer, first, room - also.length) + also)
    for n, q in enumerate(rest, 2):
        also = also_reported(q)
        blocks.append(quote_block(n, q, room - also.length) + also)
    return pack(blocks, limit)


def also_reported(q: Quote, shown: int = ALSO_SHOWN) -> Fragment:
    """'Also reported by 2 others: A; B' under a quote whose story others published too:
    the words of the terminal's answer (qa.render), each outlet cited as quotes are."""
    others = q.also_reported_by
    if not others:
        return Fragment()
    names = [citation(None, c.title, c.published, c.url, c.article_id) for c in others[:shown]]
    head = text("\n" + also_reported_head(len(others)))
    return head + join(names, "; ") + text(also_reported_rest(len(others), shown))


def timeline_message(t: Timeline, *, limit: int = MESSAGE_LIMIT) -> list[Fragment]:
    """One line per story, oldest first, each starting with its date (YYYY-MM-DD)."""
    blocks = [bold(text("Timeline: " + clip(t.topic, 300)))]
    if t.filters:
        blocks.append(italic(text("Searched only " + clip(t.filters, 300))))
    if not t.entries:
        blocks.append(text("Nothing in the indexed articles answers this topic."))
    for q in t.entries:
        day = (q.published or "")[:10] or "undated"
        blocks.append(
            text(day + " ")
            + blockquote(text(clip(q.text, 800)))
            + text("\n")
            + citation(None, q.title, None, q.url, q.article_id)
            + also_reported(q)
        )
    return pack(blocks, limit)


def nothing_found() -> Fragment:
    return text(
        "I found nothing in the indexed articles that answers this. Try other words, or "
        "send /sources to see what is indexed."
    )


def passages_page(
    answer: Answer, start: int, *, limit: int = MESSAGE_LIMIT, per_page: int = PAGE_PASSAGES
) -> tuple[Fragment, int]:
    """One message of passages from `start` on, and where the next page starts.

    Takes up to `per_page` passages, fewer when they would not fit in one message; a single
    passage too long for a message is shortened.
    """
    total = len(answer.passages)
    room = limit - tg_len(f"Passages {total}\u2013{total} of {total}") - 2
    blocks: list[Fragment] = []
    used = entities = 0
    n = start
    while n < min(total, start + per_page):
        block = passage_block(n + 1, answer.passages[n], answer.quotes, room)
        if blocks and (
            used + 2 + block.length > room or entities + block.entities > MAX_ENTITIES - 1
        ):
            break
        blocks.append(block)
        used += (2 if len(blocks) > 1 else 0) + block.length
        entities += block.entities
        n += 1
    header = bold(text(f"Passages {start + 1}\u2013{n} of {total}"))
    return join([header, *blocks], "\n\n"), n


def context_message(answer: Answer, n: int, *, limit: int = MESSAGE_LIMIT) -> Fragment:
    """Quote `n` (1-based) inside its whole passage, the sentence in bold."""
    q = answer.quotes[n - 1]
    p = passage_of(answer, q)
    before, sentence, after = around(p.text.strip(), q.text) if p else ("", q.text, "")
    header = bold(text(f"Context of quote {n}"))

    def build(budget: int | None) -> Fragment:
        body = highlighted(before, sentence, after, budget, len(before) + len(after))
        return header + text("\n") + blockquote(body) + text("\n") + _quote_citation(n, q)

    return fit(build, limit)


def sources_message(
    articles: int, chunks: int, newest: str | None, updated: str, model: str
) -> Fragment:
    """What /sources says about the index."""
    lines = [
        bold(text("What I can quote from")),
        text(f"{plural(articles, 'article')} in {plural(chunks, 'passage')}"),
        text(f"Newest article: {newest[:10] if newest else 'no dates known'}"),
        text(f"Index updated: {updated[:16].replace('T', ' ')}"),
        text(f"Model: {model}"),
    ]
    return join(lines, "\n")
