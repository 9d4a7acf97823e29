"""End to end: the real python-telegram-bot Application, over HTTP, against the Bot API
double, answering from a real index built with the real model."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from index.embedder import Embedder
from index.records import Article
from index.settings import Settings
from qa.engine import Engine
from tests.botapi_double import BotAPIDouble, FakeClock, ask, bot, check_html, strict
from tests.conftest import DEMO_ANSWER_START, DEMO_DIR, DEMO_QUESTION, ROOT

pytestmark = pytest.mark.slow

# Long words that are one word-piece each: sentences of ~2,000 characters that stay whole
# in a chunk. Three articles, each with its own words, so that none is a near-duplicate.
LONG_WORDS = (
    "international environmental investigations administration communications "
    "representatives unfortunately infrastructure construction development organizations "
    "approximately responsibilities authorities considerable",
    "professional independent commissioners parliamentary recommendations spokesperson "
    "organisation transportation archaeological discoveries municipalities negotiations "
    "contractors manufacturers",
    "extraordinary telecommunications pharmaceutical reconstruction shareholders "
    "engineering technological photographers biodiversity agricultural conservation "
    "fundamentally",
)
LONG_QUESTION = "Why was the Glimmerhold tunnel excavation postponed?"
HOSTILE_TITLE = 'Cats & <Dogs>: _the_ *markup* [test] </blockquote> "quoted"'
HOSTILE_URL = 'https://example.com/zoo?a=1&b=<2>&c="3"'

# (id, title, question, a sentence of the article) for ten topics no other article shares
TOPICS = [
    (
        "brindlewick",
        "Brindlewick opens a cheese museum",
        "When did Brindlewick open its cheese museum?",
        "The town of Brindlewick opened a museum devoted to cheese in March 2021.",
    ),
    (
        "alvara",
        "Port Alvara builds a desalination plant",
        "How much drinking water will the Port Alvara desalination plant produce?",
        "The Port Alvara desalination plant will produce 90 million litres of drinking water "
        "a day.",
    ),
    (
        "tesk",
        "Rescue dogs of Mount Tesk",
        "How do the Mount Tesk rescue dogs find avalanche victims?",
        "The rescue dogs of Mount Tesk find avalanche victims by scent through two metres of snow.",
    ),
    (
        "quillon",
        "Quillon railway strike",
        "Why are the Quillon railway workers on strike?",
        "Quillon railway workers went on strike because their wages have been frozen for six "
        "years.",
    ),
    (
        "varsen",
        "Fishing banned on Lake Varsen",
        "Why was fishing banned on Lake Varsen?",
        "Fishing was banned on Lake Varsen after a toxic algae bloom killed thousands of trout.",
    ),
    (
        "orrin",
        "Court blocks Orrin Valley wind farm",
        "Why did the court block the Orrin Valley wind farm?",
        "The court blocked the Orrin Valley wind farm because its turbines threatened a colony "
        "of rare eagles.",
    ),
    (
        "halvik",
        "Halvik library lends robots",
        "What does the Halvik library robot do?",
        "The Halvik library robot carries books from the stacks to readers and reads stories "
        "to children.",
    ),
    (
        "sarnet",
        "Sarnet malaria vaccine trial",
        "What did the Sarnet malaria vaccine trial find?",
        "The Sarnet malaria vaccine trial found that the vaccine halved infections in young "
        "children.",
    ),
    (
        "dunmore",
        "Dunmore chess championship",
        "Who won the Dunmore chess championship?",
        "A nine-year-old girl named Petra Illes won the Dunmore chess championship on Sunday.",
    ),
    (
        "estova",
        "Estova central bank raises rates",
        "Why did the Estova central bank raise interest rates?",
        "The Estova central bank raised interest rates to seven percent to fight inflation.",
    ),
]


def corpus() -> list[Article]:
    """The demo article, ten distinct topics, hostile markup, and one very long article."""
    from index.sources import read_paths

    demo = [a for a in read_paths([DEMO_DIR], max_bytes=10**7) if isinstance(a, Article)]
    topics = [
        Article(
            id=ident,
            title=title,
            text=f"{sentence}\nLocal officials commented on the news on Tuesday.",
            url=f"https://news.example/{ident}",
            published=f"2024-05-0{1 + n % 9}T09:00:00+00:00",
        )
        for n, (ident, title, _q, sentence) in enumerate(TOPICS)
    ]
    hostile = Article(
        id="hostile",
        title=HOSTILE_TITLE,
        text=(
            "The zookeeper Fenwick Tull wrote <script>alert('cats & dogs')</script> on the "
            "enclosure sign, calling it a *joke* about [markup](javascript:alert(1)) and "
            "under_scores & &amp; entities </blockquote><b>.\n"
            "Visitors of the Fenwick Tull enclosure laughed at the <i>sign</i>."
        ),
        url=HOSTILE_URL,
        published="2024-06-01",
    )
    bad_link = Article(
        id="badlink",
        title="Fenwick Tull's zoo newsletter",
        text="Fenwick Tull of the zoo sends a newsletter about the cat enclosure every week.",
        url="javascript:alert(1)",
    )
    long = [
        Article(
            id=f"glimmerhold-{n}",
            title=f"Glimmerhold tunnel report {n}",
            text="The Glimmerhold tunnel excavation was postponed because "
            + " ".join([words] * 10)
            + ".",
            url=f"https://news.example/glimmerhold-{n}",
            published="2024-07-01",
        )
        for n, words in enumerate(LONG_WORDS, 1)
    ]
    return [*demo, *topics, hostile, bad_link, *long]


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Path:
    from index.build import ingest

    folder = tmp_path_factory.mktemp("botcorpus") / "index"
    report = ingest(Settings.from_env({}, index_dir=folder), corpus(), lambda _m: real_embedder)
    assert report.failed == 0 and report.added == len(corpus())
    return folder


@pytest.fixture(scope="module")
def engine(corpus_index: Path, real_embedder: Embedder) -> Iterator[Engine]:
    e = Engine(
        Settings.from_env({}, index_dir=corpus_index), make_embedder=lambda _m: real_embedder
    )
    yield e
    e.close()


@pytest.fixture
def double() -> Iterator[BotAPIDouble]:
    with BotAPIDouble() as d:
        yield d


# --- private chat -------------------------------------------------------------------------


def test_demo_question_gets_quote_and_citation(double: BotAPIDouble, engine: Engine) -> None:
    with bot(double, engine):
        [reply] = ask(double, DEMO_QUESTION)
    text = strict(reply)
    entities = check_html(reply.text).entities
    quote = next(e for e in entities if e["type"] == "blockquote")
    bold = next(e for e in entities if e["type"] == "bold")
    assert quote["offset"] <= bold["offset"] < quote["offset"] + quote["length"]
    units = text.encode("utf-16-le")
    start, end = 2 * bold["offset"], 2 * (bold["offset"] + bold["length"])
    assert DEMO_ANSWER_START in units[start:end].decode("utf-16-le"), "the best quote is bold"
    assert "NATO asked to strengthen South Korea" in text  # the citation's title
    assert "2023-01-30" in text
    assert reply.button("Context 1").startswith("ctx:")
    assert reply.button("More").startswith("more:")
    # typing was shown, and the commands were registered at start
    assert double.calls("sendChatAction")[0].params["action"] == "typing"
    assert {c["command"] for c in double.commands} == {"start", "help", "ask", "sources", "recent"}


def test_hostile_markup_is_escaped(double: BotAPIDouble, engine: Engine) -> None:
    with bot(double, engine):
        [reply] = ask(double, "What did zookeeper Fenwick Tull write on the enclosure sign?")
        [other] = ask(double, "Who sends the cat enclosure newsletter of Fenwick Tull's zoo?")
    text = strict(reply)
    assert "<script>alert('cats & dogs')</script>" in text
    assert "</blockquote><b>." in text
    assert HOSTILE_TITLE in text
    links = [e["url"] for e in check_html(reply.text).entities if e["type"] == "text_link"]
    assert links and set(links) == {HOSTILE_URL}
    # a javascript: URL is never a link
    assert not [e for e in check_html(other.text).entities if e["type"] == "text_link"]
    assert "javascript:alert(1)" in strict(other)


def test_long_answer_is_split_on_passage_boundaries(double: BotAPIDouble, engine: Engine) -> None:
    with bot(double, engine):
        parts = ask(double, LONG_QUESTION)
    assert len(parts) >= 2
    for n, part in enumerate(parts, 1):
        text = strict(part)
        assert text.startswith(f"({n}/{len(parts)})")
        assert len(text.encode("utf-16-le")) // 2 <= 4096
    # the buttons sit under the last part only
    assert parts[-1].buttons and not any(p.buttons for p in parts[:-1])


def test_abstains_plainly(double: BotAPIDouble, engine: Engine) -> None:
    with bot(double, engine):
        [reply] = ask(double, "What is the recipe for Klingon gagh stew?")
    assert "found nothing" in strict(reply)
    assert not reply.buttons


def test_empty_question_is_explained(double: BotAPIDouble, engine: Engine) -> None:
    with bot(double, engine):
        [reply] = ask(double, "?!")
    assert "empty" in strict(reply).lower()


def test_commands(double: BotAPIDouble, engine: Engine) -> None:
    with bot(double, engine):
        [start] = ask(double, "/start")
        [help_] = ask(double, "/help")
        [sources] = ask(double, "/sources")
        [usage] = ask(double, "/ask")
        [answer] = ask(double, "/ask " + DEMO_QUESTION)
    assert DEMO_QUESTION in strict(start)
    assert all(c in strict(help_) for c in ("/ask", "/sources", "/help"))
    assert f"{len(corpus())} articles" in strict(sources)
    assert "2024-07-01" in strict(sources)
    assert "/ask" in strict(usage)
    assert DEMO_ANSWER_START in strict(answer)


def test_ten_users_at_once_get_their_own_answers(double: BotAPIDouble, engine: Engine) -> None:
    with bot(double, engine):
        asked = {}
        for n, (ident, _title, question, _sentence) in enumerate(TOPICS):
            asked[2001 + n] = (ident, double.message(question, user=2001 + n))
        for user, (ident, msg) in asked.items():
            [reply] = double.wait_sent(user)
            assert reply.reply_to == msg["message_id"]
            assert f"news.example/{ident}" in reply.text, (user, ident, reply.visible)


# --- buttons --------------------------------------------------------------------------------


def test_more_pages_and_context(double: BotAPIDouble, engine: Engine) -> None:
    with bot(double, engine):
        [answer] = ask(double, DEMO_QUESTION)
        double.press(answer, answer.button("More"))
        [_, page1] = double.wait_sent(1001, 2)
        assert strict(page1).startswith("Passages 1\u2013")
        # the spent More button is gone from the answer, its Context buttons stay
        double.wait(lambda: not any(d.startswith("more:") for _l, d in answer.buttons))
        assert answer.button("Context 1")
        pressed_again = double.press(page1, page1.button("More")) if page1.buttons else None
        if pressed_again:
            [_, _, page2] = double.wait_sent(1001, 3)
            assert strict(page2).startswith("Passages ")
        double.press(answer, answer.button("Context 1"))
        context = double.wait(lambda: [s for s in double.sent(1001) if "Context of" in s.visible])
    text = strict(context[0])
    assert DEMO_ANSWER_START in text
    assert len(text) > len(DEMO_ANSWER_START) + 200  # the passage around it, not just the quote


def test_expired_and_foreign_buttons_answer_politely(double: BotAPIDouble, engine: Engine) -> None:
    clock = FakeClock()
    with bot(double, engine, clock=clock, cursor_ttl_s=60):
        [answer] = ask(double, DEMO_QUESTION)
        clock.advance(61)
        query = double.press(answer, answer.button("More"))
        [reply] = double.wait(lambda: double.callback_answers(query))
        assert "too old" in reply["text"]
        double.wait(lambda: not answer.buttons, what="drop the dead buttons")
        junk = double.press(answer, "no such button")
        [reply] = double.wait(lambda: double.callback_answers(junk))
        assert "too old" in reply["text"]
    assert len(double.sent(1001)) == 1  # nothing but the answer was sent


# --- groups -----------------------------------------------------------------------------------


def test_group_answers_mentions_replies_and_ask_only(double: BotAPIDouble, engine: Engine) -> None:
    group = -100123
    where: dict[str, Any] = {"chat": group, "chat_type": "supergroup", "user": 3001}
    with bot(double, engine):
        double.message(DEMO_QUESTION, **where)  # not addressed: silence
        double.message("@someone_else " + DEMO_QUESTION, **where)
        [mentioned] = ask(double, f"@{double.username} {DEMO_QUESTION}", **where)
        assert DEMO_ANSWER_START in strict(mentioned)
        [by_ask] = ask(
            double, f"/ask@{double.username} When did Brindlewick open its museum?", **where
        )
        assert "Brindlewick" in strict(by_ask)
        [followup] = ask(double, "why?", reply_to=mentioned, **where)
        assert "Follow-up to" in strict(followup)
        assert DEMO_ANSWER_START in strict(followup)
        double.message("/ask@other_bot " + DEMO_QUESTION, **where)
        double.wait_consumed()
        [_sentinel] = ask(double, f"@{double.username}", **where)
    assert [s.visible for s in double.sent(group)][-1].startswith("What would you like")
    assert len(double.sent(group)) == 4


# --- follow-ups ---------------------------------------------------------------------------


def test_followup_by_reply_and_within_minutes(double: BotAPIDouble, engine: Engine) -> None:
    clock = FakeClock()
    with bot(double, engine, clock=clock):
        [first] = ask(double, "When did Brindlewick open its cheese museum?")
        [by_reply] = ask(double, "and who is the curator?", reply_to=first)
        assert "Follow-up to \u201cWhen did Brindlewick" in strict(by_reply)
        [soon] = ask(double, "and why?")
        assert "Follow-up to" in strict(soon)
        assert "news.example/brindlewick" in soon.text
        clock.advance(3600)
        [later] = ask(double, "and why?")
        assert "Follow-up to" not in strict(later)


# --- access ----------------------------------------------------------------------------------


def test_allowlist_refuses_strangers_once(double: BotAPIDouble, engine: Engine) -> None:
    friend, stranger, group = 4001, 4002, -100400
    with bot(double, engine, allowed_ids=frozenset({friend, group})):
        [refusal] = ask(double, DEMO_QUESTION, user=stranger)
        assert "private" in strict(refusal)
        double.message(DEMO_QUESTION, user=stranger)
        double.message("/sources", user=stranger)
        [answer] = ask(double, DEMO_QUESTION, user=friend)
        assert DEMO_ANSWER_START in strict(answer)
        # a stranger pressing the button of an answer (forwarded to them) gets no passage
        forwarded = dataclasses.replace(answer, chat_id=stranger)
        query = double.press(forwarded, answer.button("Context 1"), user=stranger)
        [refused] = double.wait(lambda: double.callback_answers(query))
        assert not refused.get("text")  # refused once already; now only the spinner stops
        # anyone in an allowed group may ask there
        [in_group] = ask(
            double,
            f"@{double.username} {DEMO_QUESTION}",
            chat=group,
            chat_type="group",
            user=stranger,
        )
        assert DEMO_ANSWER_START in strict(in_group)
        # in a group that is not allowed, a second stranger is refused once, then ignored
        other_group, other = -100999, 4003
        where: dict[str, Any] = {"chat": other_group, "chat_type": "supergroup", "user": other}
        double.message("just chatting", **where)  # not for the bot: no refusal used up
        [refused_there] = ask(double, f"/ask@{double.username} {DEMO_QUESTION}", **where)
        assert "private" in strict(refused_there)
        double.message(f"@{double.username} {DEMO_QUESTION}", **where)
        double.message("/ask " + DEMO_QUESTION, **where)
        double.wait_consumed()
    assert len(double.sent(stranger)) == 1
    assert len(double.sent(friend)) == 1
    assert len(double.sent(other_group)) == 1
    # no quote from the corpus ever reached a stranger's chat
    for chat in (stranger, other_group):
        assert not any("Korea" in s.visible for s in double.sent(chat))


def test_rate_limit_is_friendly(double: BotAPIDouble, engine: Engine) -> None:
    clock = FakeClock()
    with bot(double, engine, clock=clock, rate_limit=2):
        ask(double, DEMO_QUESTION)
        ask(double, DEMO_QUESTION)
        [slow_down] = ask(double, DEMO_QUESTION)
        assert "wait" in strict(slow_down)
        double.message(DEMO_QUESTION)  # refused again, silently
        double.wait_consumed()
        clock.advance(61)
        [answer] = ask(double, DEMO_QUESTION)
        assert DEMO_ANSWER_START in strict(answer)
    assert len(double.sent(1001)) == 4


# --- a fresh index --------------------------------------------------------------------------


def test_index_ingested_and_rebuilt_by_another_process_is_picked_up(
    double: BotAPIDouble, corpus_index: Path, real_embedder: Embedder, tmp_path: Path
) -> None:
    import shutil

    folder = tmp_path / "index"
    shutil.copytree(corpus_index, folder, ignore=shutil.ignore_patterns(".lock"))
    article = tmp_path / "pellowmere.txt"
    article.write_text(
        "Pellowmere lighthouse reopens\n"
        "The Pellowmere lighthouse reopened after its keeper restored the lamp with brass "
        "from old ship bells.\n"
    )
    question = "How did the keeper restore the Pellowmere lighthouse lamp?"
    engine = Engine(Settings.from_env({}, index_dir=folder), make_embedder=lambda _m: real_embedder)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}

    def qa(*args: str) -> None:
        """A `qa` command in another process, as a user would run it beside the bot."""
        cmd = [sys.executable, "-m", "qa", *args, "--index", str(folder)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr

    try:
        with bot(double, engine):
            [before] = ask(double, question)
            assert "Pellowmere" not in strict(before)
            qa("ingest", str(article))
            [after_ingest] = ask(double, question)
            assert "ship bells" in strict(after_ingest)
            generation = engine.reader.manifest.generation
            qa("rebuild", "--chunk-tokens", "120")  # every chunk re-embedded and swapped in
            [after_rebuild] = ask(double, question)
            assert "ship bells" in strict(after_rebuild)
            assert engine.reader.manifest.generation > generation
            assert engine.reader.manifest.chunk_tokens == 120
    finally:
        engine.close()
