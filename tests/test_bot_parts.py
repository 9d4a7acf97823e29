"""The bot's small parts on their own: settings, cursors, access, follow-ups, addressing, logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from telegram import Chat, Message, MessageEntity, User

from bot.access import Allowlist, RateLimit
from bot.addressing import command_argument, group_question, replies_to_bot
from bot.cursors import (
    MAX_CALLBACK_BYTES,
    Cursor,
    CursorStore,
    context_data,
    more_data,
    parse_data,
)
from bot.followups import Conversations, is_short_followup
from bot.logs import REDACTED, redact_token
from bot.settings import BotSettings, api_base_url
from index.errors import ConfigError
from qa.answer import Answer
from tests.botapi_double import TOKEN, FakeClock

# --- settings -----------------------------------------------------------------------------


def test_settings_from_env() -> None:
    s = BotSettings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": f" {TOKEN} ",
            "TELEGRAM_API_BASE_URL": "http://localhost:8081/",
            "TELEGRAM_ALLOWED_IDS": "12, -100345  67",
            "TELEGRAM_RATE_LIMIT": "3",
        }
    )
    assert s.token == TOKEN
    assert s.api_base_url == "http://localhost:8081/bot"
    assert s.allowed_ids == frozenset({12, -100345, 67})
    assert s.rate_limit == 3
    assert TOKEN not in repr(s) and TOKEN.split(":")[1] not in repr(s)


def test_settings_defaults() -> None:
    s = BotSettings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN})
    assert s.api_base_url == "https://api.telegram.org/bot"
    assert s.allowed_ids == frozenset() and s.rate_limit == 10


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no bot token: set TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "does not look like a bot token"),
        ({"TELEGRAM_BOT_TOKEN": "12345:short"}, "does not look like a bot token"),
        ({"TELEGRAM_API_BASE_URL": "ftp://x"}, "is not an http(s) address"),
        ({"TELEGRAM_ALLOWED_IDS": "12,@me"}, "'@me', which is not a numeric"),
        ({"TELEGRAM_RATE_LIMIT": "lots"}, "is not a whole number"),
        ({"TELEGRAM_RATE_LIMIT": "-1"}, "must be 0 or more"),
    ],
)
def test_settings_errors_say_what_to_fix(env: dict[str, str], message: str) -> None:
    full = {"TELEGRAM_BOT_TOKEN": TOKEN, **env} if env and "TELEGRAM_BOT_TOKEN" not in env else env
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        BotSettings.from_env(full)
    assert "\n" not in str(e.value)


def test_api_base_url_accepts_either_form() -> None:
    assert api_base_url("https://tg.example/bot") == "https://tg.example/bot"
    assert api_base_url("https://tg.example") == "https://tg.example/bot"


# --- cursors -------------------------------------------------------------------------------


def answer(question: str = "q") -> Answer:
    return Answer(question, False, (), ())


def test_callback_data_is_short_ascii_and_parses_back() -> None:
    store = CursorStore(60, 10)
    key = store.put(Cursor(1, answer("چرا کره جنوبی به اوکراین سلاح نمی‌دهد؟" * 20)))
    for data in (more_data(key, 999), context_data(key, 3)):
        assert data.isascii() and len(data.encode()) <= MAX_CALLBACK_BYTES
    assert parse_data(more_data(key, 7)) == parse_data(f"more:{key}:7")
    button = parse_data(context_data(key, 3))
    assert button is not None and (button.kind, button.key, button.n) == ("ctx", key, 3)
    for junk in (None, "", "more:", "more:k", "x:k:1", "more:k:1:2", "more:" + "k" * 70 + ":1"):
        assert parse_data(junk) is None


def test_cursors_expire_and_the_oldest_go_first() -> None:
    clock = FakeClock()
    store = CursorStore(ttl_s=60, max_entries=2, clock=clock)
    a = store.put(Cursor(1, answer("a")))
    clock.advance(30)
    b = store.put(Cursor(1, answer("b")))
    store.update(a, Cursor(1, answer("a"), next_passage=3))
    got = store.get(a)
    assert got is not None and got.next_passage == 3
    clock.advance(31)
    assert store.get(a) is None  # 61 s old: expired, even though updated later
    assert store.get(b) is not None
    c = store.put(Cursor(1, answer("c")))
    d = store.put(Cursor(1, answer("d")))
    assert store.get(b) is None and store.get(c) and store.get(d) and len(store) == 2


# --- access --------------------------------------------------------------------------------


def test_allowlist() -> None:
    assert Allowlist(frozenset()).allows(1, 2)
    gate = Allowlist(frozenset({7, -100}))
    assert gate.allows(7, 99) and gate.allows(99, -100)
    assert not gate.allows(99, 99) and not gate.allows(None, None)
    assert gate.first_refusal(99) and not gate.first_refusal(99) and gate.first_refusal(98)


def test_rate_limit_is_a_sliding_window_and_warns_once() -> None:
    clock = FakeClock()
    limit = RateLimit(2, 60, clock)
    assert limit.wait_for(1) == 0
    clock.advance(5)
    assert limit.wait_for(1) == 0
    clock.advance(5)
    assert limit.wait_for(1) == pytest.approx(50)
    assert limit.should_warn(1) and not limit.should_warn(1)
    assert limit.wait_for(2) == 0  # users are counted apart
    clock.advance(50)
    assert limit.wait_for(1) == 0  # the first question left the window
    assert limit.wait_for(1) > 0 and limit.should_warn(1)  # a new stretch warns again
    assert all(RateLimit(0, 60, clock).wait_for(3) == 0 for _ in range(100))


# --- follow-ups ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("and Japan?", True),
        ("why?", True),
        ("What about China", True),
        ("Who is he?", True),
        ("Japan", True),
        ("Who is Jens Stoltenberg?", False),
        ("When did Brindlewick open its museum?", False),
        ("What did she say?", True),
        ("Why won't South Korea arm Ukraine?", False),
        ("and then what did the minister of defence say in the end about it?", False),
        ("", False),
    ],
)
def test_short_followups(text: str, short: bool) -> None:
    assert is_short_followup(text) is short


def test_followups_by_reply_and_by_time() -> None:
    clock = FakeClock()
    talk = Conversations(window_s=300, clock=clock)
    first = talk.resolve(1, 10, "Why won't South Korea arm Ukraine?", None)
    assert first.followup_of is None
    talk.record(1, 10, first)
    talk.answered(1, 500, first)
    clock.advance(100)
    soon = talk.resolve(1, 10, "and Japan?", None)
    assert soon.followup_of == first.text
    assert soon.text == "Why won't South Korea arm Ukraine? and Japan?"
    assert talk.resolve(1, 11, "and Japan?", None).followup_of is None  # another user
    assert talk.resolve(2, 10, "and Japan?", None).followup_of is None  # another chat
    talk.record(1, 10, soon)
    clock.advance(3600)
    assert talk.resolve(1, 10, "and Japan?", None).followup_of is None  # too late
    late = talk.resolve(1, 10, "Who is Jens Stoltenberg?", 500)  # a reply: any length, any age
    assert late.followup_of == first.text
    talk.record(1, 10, late)
    assert talk.resolve(1, 10, "why?", 999).followup_of == late.text  # an unknown answer


# --- addressing ------------------------------------------------------------------------------

BOT = User(42, "NewsQA", is_bot=True, username="newsqa_bot")


def group_message(
    text: str, entities: Sequence[MessageEntity] = (), reply_to: Message | None = None
) -> Message:
    return Message(
        1,
        datetime.now(UTC),
        Chat(-100, Chat.SUPERGROUP),
        from_user=User(7, "Ann", is_bot=False),
        text=text,
        entities=list(entities),
        reply_to_message=reply_to,
    )


def test_group_questions() -> None:
    text = "@NewsQA_bot why won't South Korea arm Ukraine?"
    mention = MessageEntity(MessageEntity.MENTION, 0, 11)
    assert group_question(group_message(text, [mention]), 42, "newsqa_bot") == (
        "why won't South Korea arm Ukraine?"
    )
    other = group_message("@other_bot hi", [MessageEntity(MessageEntity.MENTION, 0, 10)])
    assert group_question(other, 42, "newsqa_bot") is None
    by_name = MessageEntity(MessageEntity.TEXT_MENTION, 0, 6, user=BOT)
    assert group_question(group_message("NewsQA, why?", [by_name]), 42, "newsqa_bot") == ", why?"
    answer = Message(9, datetime.now(UTC), Chat(-100, Chat.SUPERGROUP), from_user=BOT, text="A")
    reply = group_message("and Japan?", reply_to=answer)
    assert group_question(reply, 42, "newsqa_bot") == "and Japan?"
    assert replies_to_bot(reply, 42) == 9
    assert group_question(group_message("just chatting"), 42, "newsqa_bot") is None


def test_command_argument_keeps_the_question_whole() -> None:
    assert command_argument(group_message("/ask@newsqa_bot  Why\nnot?")) == "Why\nnot?"
    assert command_argument(group_message("/ask")) == ""


# --- logs ----------------------------------------------------------------------------------


def test_token_is_redacted_from_messages_and_tracebacks() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    redact_token(TOKEN, [handler])
    log = logging.getLogger("tests.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.error("calling https://api.telegram.org/bot%s/getMe", TOKEN)
        try:
            raise RuntimeError(f"bad secret {TOKEN.split(':')[1]}")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    text = out.getvalue()
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    assert text.count(REDACTED) == 2 and "Traceback" in text
