"""Telegram HTML rendering: escaping, highlighting, citations, and splitting under 4,096.

Every message is checked with the strict parser of the Bot API double, which refuses what
Telegram would refuse."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import clipping, render, telegram_html
from qa.answer import Answer, Passage, Quote
from tests.botapi_double import HtmlError, check_html


def make_answer(
    sentences: list[str],
    *,
    before: str = "Earlier context. ",
    after: str = " Later context.",
    title: str = "A title",
    url: str | None = "https://news.example/a",
    published: str | None = "2024-01-02T03:04:05+00:00",
    extra_passages: list[str] | None = None,
) -> Answer:
    """An answer whose quote n lies in passage n, between `before` and `after`."""
    quotes, passages = [], []
    for n, s in enumerate(sentences):
        text = before + s + after
        passages.append(Passage(n, f"a{n}", title, url, published, text, 1.0 / (n + 1)))
        start = len(before)
        quotes.append(Quote(s, f"a{n}", title, url, published, n, start, start + len(s), 1.0))
    for m, text in enumerate(extra_passages or [], len(sentences)):
        passages.append(Passage(m, f"a{m}", title, url, published, text, 0.1))
    return Answer("q?", False, tuple(quotes), tuple(passages))


def visible(fragment: telegram_html.Fragment) -> str:
    return check_html(fragment.html).text


def u16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def test_answer_html_is_valid_and_highlights_the_best_sentence() -> None:
    answer = make_answer(["The answer is here.", "A second one.", "A third one."])
    [message] = render.answer_messages(answer)
    parsed = check_html(message.html)
    kinds = [e["type"] for e in parsed.entities]
    assert kinds.count("blockquote") == 3 and kinds.count("bold") == 1
    bold = next(e for e in parsed.entities if e["type"] == "bold")
    assert parsed.text[bold["offset"] : bold["offset"] + bold["length"]] == "The answer is here."
    assert parsed.text.startswith("Earlier context. The answer is here. Later context.")
    assert "1 \u00b7 A title, 2024-01-02 \u00b7 news.example" in parsed.text
    links = [e["url"] for e in parsed.entities if e["type"] == "text_link"]
    assert links == ["https://news.example/a"] * 3


def test_markup_in_article_text_stays_text() -> None:
    nasty = "<b>bold?</b> & <a href='x'>link</a> &amp; _under_ *star* [box](y) </blockquote>"
    answer = make_answer([nasty], before=nasty + " ", title=nasty, url=None)
    [message] = render.answer_messages(answer)
    parsed = check_html(message.html)
    assert parsed.text.count(nasty) == 3  # context, quote and title, each verbatim
    assert {e["type"] for e in parsed.entities} == {"blockquote", "bold", "italic"}


def test_unsafe_urls_are_not_links() -> None:
    for url in ["javascript:alert(1)", "ftp://x.example/", "http://", "https://a b.example/"]:
        [message] = render.answer_messages(make_answer(["S."], url=url))
        assert not [e for e in check_html(message.html).entities if e["type"] == "text_link"]
    quoted = 'https://x.example/?a=1&b="2"<3>'
    [message] = render.answer_messages(make_answer(["S."], url=quoted))
    links = [e["url"] for e in check_html(message.html).entities if e["type"] == "text_link"]
    assert links == [quoted]


def test_a_missing_url_shows_the_article_id() -> None:
    [message] = render.answer_messages(make_answer(["S."], url=None, published=None))
    assert visible(message).endswith("1 \u00b7 A title \u00b7 a0")


def test_plain_fallback_is_the_text_without_markup() -> None:
    answer = make_answer(["The <answer> & more."], url=None)
    [message] = render.answer_messages(answer)
    assert message.plain == visible(message)


def test_long_answer_splits_between_quotes_and_numbers_the_parts() -> None:
    sentences = [f"Quote {n} " + "word " * 600 + "end." for n in range(3)]  # ~3,000 each
    messages = render.answer_messages(make_answer(sentences))
    assert len(messages) >= 2
    texts = [visible(m) for m in messages]
    for n, t in enumerate(texts, 1):
        assert t.startswith(f"({n}/{len(messages)})\n")
        assert u16(t) <= telegram_html.MESSAGE_LIMIT
    for s in sentences:  # each quote whole, in exactly one part
        assert sum(s in t for t in texts) == 1


def test_a_quote_too_long_for_any_message_is_shortened() -> None:
    huge = "\U0001f600" * 3000 + " " + "word " * 2000  # emoji count two UTF-16 units each
    [message] = render.answer_messages(make_answer([huge]))
    text = visible(message)
    assert u16(text) <= telegram_html.MESSAGE_LIMIT
    assert clipping.ELLIPSIS in text and "1 \u00b7 A title" in text


def test_a_quote_that_fills_a_message_leaves_room_for_its_other_outlets() -> None:
    from dataclasses import replace

    from qa.answer import Citation

    long_title = "A republished headline that runs on " * 8
    others = tuple(
        Citation(f"c{n}", long_title, f"https://outlet{n}.example/" + "p" * 150, None, None)
        for n in range(5)
    )
    answer = make_answer(["word " * 1500, "word " * 1500])
    answer = replace(
        answer, quotes=tuple(replace(q, also_reported_by=others) for q in answer.quotes)
    )
    messages = render.answer_messages(answer)
    for message in messages:
        assert u16(visible(message)) <= telegram_html.MESSAGE_LIMIT
    assert sum(visible(m).count("Also reported by 5 others: ") for m in messages) == 2


def test_abstained_answer_says_so_without_quotes() -> None:
    answer = Answer("q?", True, (), make_answer(["x"]).passages)
    [message] = render.answer_messages(answer)
    assert visible(message).startswith("I found nothing")
    assert not check_html(message.html).entities


def test_followup_header() -> None:
    [message] = render.answer_messages(make_answer(["S."]), followup_of="Why <this>?")
    assert visible(message).startswith("Follow-up to \u201cWhy <this>?\u201d\n\n")


def test_passage_pages_cover_every_passage_once_within_the_limit() -> None:
    extra = [f"Passage {n}. " + "text " * 300 for n in range(9)]  # ~1,500 characters each
    answer = make_answer(["S."], extra_passages=extra)
    start, seen = 0, []
    while start < len(answer.passages):
        page, start_next = render.passages_page(answer, start)
        text = visible(page)
        assert u16(text) <= telegram_html.MESSAGE_LIMIT
        assert text.startswith(f"Passages {start + 1}\u2013{start_next} of 10")
        seen += [n for n in range(len(answer.passages)) if f"{n + 1} \u00b7 A title" in text]
        assert start_next > start
        start = start_next
    assert seen == list(range(10))


def test_context_shows_the_whole_passage() -> None:
    before, after = "B" * 1500 + ". ", " " + "A" * 1500
    answer = make_answer(["The sentence."], before=before, after=after)
    text = visible(render.context_message(answer, 1))
    assert before.strip() in text and after.strip() in text and "The sentence." in text
    # and a passage too long for one message is cut around the sentence, not away from it
    answer = make_answer(["The sentence."], before=before * 3, after=after * 3)
    text = visible(render.context_message(answer, 1))
    assert "BBB\u2026" not in text and "The sentence." in text and u16(text) <= 4096
    assert text.count("B") > 1000 and text.count("A") > 1000


def test_tail_and_head_cut_at_sentence_edges() -> None:
    assert clipping.tail("One. Two three. Four five six", 20) == "Four five six"
    assert clipping.head("Alpha beta. Gamma delta. Epsilon", 20) == "Alpha beta."
    assert clipping.clip("alpha beta gamma", 12) == "alpha beta\u2026"


def test_fragments_count_utf16() -> None:
    assert telegram_html.text("\U0001f600a").length == 3


# Text that breaks naive HTML or Markdown, and any unicode besides (no lone surrogates).
nasty_text = st.lists(
    st.one_of(
        st.sampled_from([*"<>&;#x/\"'_*[]()`~|\\ \n\t", "&amp;", "</b>", "<a href=", "&#", ". "]),
        st.characters(blacklist_categories=["Cs"]),
    ),
    max_size=200,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sentence=nasty_text.filter(lambda s: s.strip()),
    before=nasty_text,
    after=nasty_text,
    title=nasty_text,
    url=st.one_of(st.none(), nasty_text, st.just('https://x.example/?q=<&>"')),
    repeat=st.integers(1, 40),
)
def test_any_article_text_renders_to_html_telegram_accepts(
    sentence: str, before: str, after: str, title: str, url: str | None, repeat: int
) -> None:
    answer = make_answer(
        [sentence * repeat, sentence, before], before=before, after=after, title=title, url=url
    )
    messages = [
        *render.answer_messages(answer, followup_of=before or None),
        render.passages_page(answer, 0)[0],
        render.context_message(answer, 1),
    ]
    for m in messages:
        try:
            parsed = check_html(m.html)
        except HtmlError as e:
            if "empty" in str(e) and not m.plain.strip():
                continue  # whitespace-only input renders whitespace; nothing to send
            raise
        assert u16(parsed.text) <= telegram_html.MESSAGE_LIMIT
        assert len(parsed.entities) <= telegram_html.MAX_ENTITIES


@pytest.mark.parametrize(
    "html",
    [
        "<b>x",
        "a < b",
        "a & b",
        "<script>x</script>",
        "<b></b>",
        "<blockquote><blockquote>x</blockquote></blockquote>",
        '<a href="javascript:x">y</a>',
        "&nbsp;",
        "<b>x</i>",
    ],
)
def test_the_checker_refuses_what_telegram_refuses(html: str) -> None:
    with pytest.raises(HtmlError):
        check_html(html)
